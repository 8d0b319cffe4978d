import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from apps.accounts.models import ManagedAccount, Payer
from apps.intake.models import AccountRequest
from apps.kernel import clock
from apps.network.models import Allocation, IpPool
from apps.workflow.models import Run, StepRun

NOW = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)


@pytest.fixture
def now() -> Iterator[datetime]:
    """The clock stopped at ``NOW`` (a Monday afternoon, UTC)."""
    clock.set_source(lambda: NOW)
    yield NOW
    clock.set_source(None)


@pytest.fixture
def staff(db: None) -> Client:
    user = get_user_model().objects.create_superuser("ops", "ops@example.com", "a-long-password-1")
    browser = Client()
    browser.force_login(user)
    return browser


_counter = iter(range(1, 10**6))


def make_request(*, created_at: datetime, status: str) -> AccountRequest:
    n = next(_counter)
    return AccountRequest.objects.create(
        id=f"req-{n}",
        client_id="client-1",
        payer="demo",
        environment="dev",
        region="us-east-1",
        regulated=False,
        account_email=f"aws+{n}@example.com",
        status=status,
        body={},
        created_at=created_at,
        updated_at=created_at,
    )


def make_run(*, request: AccountRequest, status: str, started_at: datetime, finished_at: datetime | None) -> Run:
    return Run.objects.create(
        id=f"run-{request.id}", request_id=request.id, status=status, started_at=started_at, finished_at=finished_at
    )


def make_step(*, name: str, state: str, started_at: datetime | None, seconds: float) -> StepRun:
    """A step run in a run of its own (a run holds one row per step name)."""
    request = make_request(created_at=NOW - timedelta(days=1), status="succeeded")
    run = make_run(request=request, status="succeeded", started_at=request.created_at, finished_at=NOW)
    return StepRun.objects.create(
        run=run,
        name=name,
        context="baseline",
        position=0,
        state=state,
        started_at=started_at,
        finished_at=(started_at or NOW) + timedelta(seconds=seconds),
    )


def make_payer(name: str) -> Payer:
    return Payer.objects.create(
        name=name,
        management_account_id="123456789012",
        email_division=name,
        email_domain="example.com",
        allowed_environments=["dev", "prd"],
        allowed_regions=["us-east-1"],
    )


def make_account(*, payer: Payer, environment: str, status: str = ManagedAccount.Status.ACTIVE) -> ManagedAccount:
    n = next(_counter)
    return ManagedAccount.objects.create(
        id=f"acct-{n}",
        payer=payer,
        email=f"acct+{n}@example.com",
        name=f"acct-{n}",
        environment=environment,
        status=status,
        created_at=NOW,
        updated_at=NOW,
    )


def make_pool(*, cidr: str, name: str, allocations: list[str]) -> IpPool:
    pool = IpPool.objects.create(
        id=f"pool-{next(_counter)}", payer="demo", region="us-east-1", cidr=cidr, name=name, created_at=NOW
    )
    for cidr_block in allocations:
        Allocation.objects.create(
            id=f"alloc-{next(_counter)}",
            pool=pool,
            request_id=f"r-{next(_counter)}",
            cidr=cidr_block,
            prefix_length=int(cidr_block.split("/")[1]),
            allocated_at=NOW,
        )
    return pool


def chart_html(html: str, name: str) -> str:
    found = re.search(rf'<figure class="chart[^"]*" data-chart="{re.escape(name)}">(.*?)</figure>', html, re.S)
    assert found, f"no chart {name}"
    return found.group(1)


def points(html: str, name: str) -> dict[tuple[str, str], str]:
    """(label, series) -> data-value of every data point of chart ``name``."""
    figure = chart_html(html, name)
    assert "<svg" in figure, f"chart {name} is empty"
    found = re.findall(r'data-label="([^"]*)" data-series="([^"]*)" data-value="([^"]*)"', figure)
    return {(label, series): value for label, series, value in found}


def dashboard(browser: Client) -> Any:
    page = browser.get("/admin/dashboard/")
    assert page.status_code == 200
    return page.content.decode()

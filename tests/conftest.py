from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from _pytest.nodeid import coerce_node_id
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from rest_framework.test import APIClient
from xdist.scheduler import LoadScopeScheduling

from apps.accounts import api as accounts
from apps.clients import api as clients
from apps.cloud import api as cloud
from apps.cloud.emulator import Emulator, ensure_organization, start_emulator
from apps.kernel import egress, ttlcache
from apps.kernel.steps import StepContext
from tests.support import factories
from tests.support.factories import request_body
from tests.support.webhooks import LocalResolver


@dataclass
class EmulatedAws:
    """moto's server on a loopback port, reset for each test that uses it."""

    url: str

    def client(self, service: str, *, region: str = "us-east-1", **credentials: str) -> Any:
        made = boto3.client(
            service,
            region_name=region,
            endpoint_url=self.url,
            aws_access_key_id=credentials.get("aws_access_key_id", "testing"),
            aws_secret_access_key=credentials.get("aws_secret_access_key", "testing"),
            aws_session_token=credentials.get("aws_session_token"),
        )
        if service == "s3control":
            made.meta.events.register("before-send.s3-control", cloud.unprefixed_emulator_host)
        return made

    def member_client(
        self, service: str, *, account_id: str, role: str = "OrganizationAccountAccessRole", region: str = "us-east-1"
    ) -> Any:
        """A client inside a member account, through assume-role (as Bespoke does)."""
        creds = self.client("sts").assume_role(
            RoleArn=f"arn:aws:iam::{account_id}:role/{role}", RoleSessionName="test"
        )["Credentials"]
        return self.client(
            service,
            region=region,
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
        )

    def reset(self) -> None:
        requests.post(f"{self.url}/moto-api/reset", timeout=10).raise_for_status()
        # Credentials and clients of the emulator's previous state mean nothing now.
        cloud.forget_cached()


@pytest.fixture(autouse=True)
def fresh_aws_clients() -> Iterator[None]:
    """Each test starts with no cached AWS client or credential (a test may stub one)."""
    cloud.forget_cached()
    yield
    cloud.forget_cached()


@pytest.fixture(autouse=True)
def fresh_process_caches() -> Iterator[None]:
    """Each test starts with no cached principal or payer: its rolled-back rows sent no
    signal to clear them."""
    ttlcache.clear_all()
    yield
    ttlcache.clear_all()


@pytest.fixture(autouse=True)
def local_names() -> Iterator[LocalResolver]:
    """No test asks DNS: outbound requests (webhooks) resolve names from this table."""
    resolver = LocalResolver()
    egress.set_resolver(resolver)
    yield resolver
    egress.set_resolver(None)


@pytest.fixture(scope="session")
def _emulator() -> Iterator[Emulator]:
    emulator = start_emulator()
    yield emulator
    emulator.stop()


@pytest.fixture
def aws(_emulator: Emulator, settings: Any) -> EmulatedAws:
    """Emulated AWS over a real socket, empty at the start of the test."""
    emulated = EmulatedAws(url=_emulator.url)
    emulated.reset()
    settings.AWS_ENDPOINT_URL = emulated.url
    return emulated


@pytest.fixture
def demo_payer(aws: EmulatedAws, db: None) -> accounts.PayerSummary:
    """The payer ``demo`` in an emulated Organization."""
    payer: accounts.PayerSummary = factories.payer("demo", management_account_id=ensure_organization())
    return payer


DEMO_IDP_METADATA = (Path(__file__).resolve().parents[1] / "tasks" / "demo_idp_metadata.xml").read_text()


@pytest.fixture
def payer_settings(demo_payer: accounts.PayerSummary, aws: EmulatedAws) -> dict[str, str]:
    """The ``payer_settings`` step input of the demo payer, with its central log bucket
    (in the management account) and its IdP metadata in place."""
    bucket = "bespoke-test-log-archive"
    aws.client("s3").create_bucket(Bucket=bucket)
    factories.payer(
        "demo",
        management_account_id=ensure_organization(),
        log_archive_bucket=bucket,
        saml_metadata_document=DEMO_IDP_METADATA,
        dns_domain="aws.example.com",
    )
    return accounts.payer_settings(name="demo")


@pytest.fixture
def member_account(aws: EmulatedAws, payer_settings: dict[str, str]) -> str:
    """A member account created in the emulated Organization; its id."""
    org = aws.client("organizations")
    status = org.create_account(Email="member@example.com", AccountName="member")["CreateAccountStatus"]
    return str(
        org.describe_create_account_status(CreateAccountRequestId=status["Id"])["CreateAccountStatus"]["AccountId"]
    )


@pytest.fixture
def step_context(payer_settings: dict[str, str], member_account: str) -> Callable[..., StepContext]:
    """``step_context("iam", step_params={...}, **more_inputs)``: what a step receives
    for the demo request, in ``member_account``."""

    def make(step: str, *, step_params: dict[str, Any] | None = None, attempt: int = 1, **inputs: Any) -> StepContext:
        base = request_body()
        merged = {
            "request_id": "11111111-1111-4111-8111-111111111111",
            "payer": "demo",
            "environment": base["environment"],
            "region": base["region"],
            "regulated": base["regulated"],
            "account_email": "aws.demo.msfp.dev@example.com",
            "account_name": "demo-msfp-dev",
            "tags": base["tags"],
            "vpc": base["vpc"],
            "user_access_list": base["user_access_list"],
            "technical_contact": base["technical_contact"],
            "requestor": base["requestor"],
            "payer_settings": payer_settings,
            "account_id": member_account,
            "step_params": step_params or {},
            **inputs,
        }
        return StepContext(run_id="22222222-2222-4222-8222-222222222222", step=step, attempt=attempt, inputs=merged)

    return make


@pytest.fixture
def make_api_client(db: None) -> Callable[..., APIClient]:
    """An API client authenticated with a fresh token carrying ``scopes`` (default: all),
    granted ``payers`` (default: ``demo``; ``all_payers=True`` for an operator of every payer)."""
    counter = iter(range(1_000_000))

    def make(*scopes: str, payers: tuple[str, ...] = ("demo",), all_payers: bool = False) -> APIClient:
        issued = clients.client_create(
            name=f"client-{next(counter)}",
            scopes=list(scopes or clients.ALL_SCOPES),
            payers=() if all_payers else payers,
            all_payers=all_payers,
        )
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.token}")
        api.issued = issued  # type: ignore[attr-defined]
        return api

    return make


@pytest.fixture
def api(make_api_client: Callable[..., APIClient]) -> APIClient:
    """A client with every scope, granted every payer: an operator's."""
    return make_api_client(all_payers=True)


@pytest.fixture
def payer(db: None) -> accounts.PayerSummary:
    """The payer ``demo`` as ``demo_payer`` declares it, for tests that never reach AWS (no
    emulator). Modules that need another payer define their own ``payer``."""
    summary: accounts.PayerSummary = factories.payer("demo")
    return summary


@pytest.fixture
def in_transaction() -> Iterator[None]:
    """Keep the test's connection (and its rolled-back transaction) across WSGI requests,
    as Django's test client does: the handler would otherwise close it after each one."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    try:
        yield
    finally:
        for signal in (request_started, request_finished):
            signal.connect(close_old_connections)


# ``make test`` runs the suite in several processes (pytest-xdist, ``--dist loadgroup``).
# Tests that share more than their process's own databases run one after another in one
# process: the end-to-end tests (they flush their Redis database and start the service's
# processes, which would fight for the cores) and the deploy tests (``dist/`` and the
# package virtualenv in the checkout). Every other test is a unit of its own. (xdist's own
# ``xdist_group`` marks no longer reach its scheduler with pytest 9's node ids, and its
# scope scheduling keeps one test of several that share an id: hence this scheduler.)
SERIAL_FOLDERS = ("e2e", "deploy")


def serial_group(nodeid: str) -> str | None:
    """The folder whose tests run one after another, for a test of it; else None."""
    parts = nodeid.split("::", 1)[0].split("/")
    if len(parts) > 2 and parts[0] == "tests" and parts[1] in SERIAL_FOLDERS and parts[2] != "browser":
        return parts[1]
    return None


class _GroupedScheduling(LoadScopeScheduling):  # type: ignore[misc]  # xdist has no types
    def _split_scope(self, nodeid: str) -> str:
        return serial_group(nodeid) or nodeid


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> LoadScopeScheduling | None:
    return _GroupedScheduling(config, log) if config.getvalue("dist") == "loadgroup" else None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.rpartition("::")[2] != item.name:
            # schemathesis gives each operation's test its function's id; the scheduler
            # finds tests by id, so each gets its own, with the operation, as pytest shows it.
            item._id = coerce_node_id(f"{item.nodeid.rpartition('::')[0]}::{item.name}")

"""How people follow a run: ``manage.py watch`` in a terminal and the admin's timeline."""

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from apps.kernel import clock
from apps.kernel.contracts import StepFailed, StepSucceeded
from apps.workflow import services
from apps.workflow.management.commands.watch import render
from apps.workflow.models import Run
from apps.workflow.plans import StepSpec
from apps.workflow.selectors import run_for_request

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
PLAN = (
    StepSpec("create_account", "accounts", legacy_name="CLA_SUBMISSION"),
    StepSpec("iam", "baseline", depends_on=("create_account",), legacy_name="IAM"),
    StepSpec("vpc", "network", depends_on=("create_account",), legacy_name="VPC"),
)


@pytest.fixture
def at() -> object:
    """Set the clock: ``at(seconds)`` is T0 + seconds from then on."""

    def move(seconds: float) -> datetime:
        moment = T0 + timedelta(seconds=seconds)
        clock.set_source(lambda: moment)
        return moment

    yield move
    clock.set_source(None)


def _run_with_history(at: object) -> Run:
    at(0)  # type: ignore[operator]
    run = services.run_start(request_id="req-1", params={}, plan=PLAN)
    done = at(2)  # type: ignore[operator]
    services.step_record_succeeded(
        StepSucceeded(run_id=run.id, step="create_account", attempts=1, outputs={"account_id": "1"}, occurred_at=done)
    )
    failed = at(6)  # type: ignore[operator]
    services.step_record_failed(
        StepFailed(
            run_id=run.id,
            step="vpc",
            attempts=3,
            error_code="ip_pool_exhausted",
            message="pool full",
            occurred_at=failed,
        )
    )
    return run


def test_render_draws_one_bar_per_step_over_the_run_time(at: object) -> None:
    run = _run_with_history(at)
    summary = run_for_request(request_id=run.request_id)
    assert summary is not None

    lines = render(summary, now=T0 + timedelta(seconds=6))

    assert lines[0] == f"run {run.id}  failed     6.0s"
    create, iam, vpc = lines[1:4]
    assert create.startswith("  ✔ create_account |████████")
    assert "succeeded   2.0s" in create
    assert iam.startswith("  ▶ iam ")
    assert "running" in iam  # was in flight when vpc failed
    assert "✘ vpc" in vpc
    assert "attempt 3" in vpc
    assert "pool full" in vpc
    assert lines[-1] == "  failed: vpc: pool full"


def test_watch_prints_the_final_state_and_exits_nonzero_for_a_failed_run(at: object) -> None:
    run = _run_with_history(at)
    out = StringIO()

    with pytest.raises(SystemExit) as exited:
        call_command("watch", run.request_id, stdout=out)

    assert exited.value.code == 1
    assert "✘ vpc" in out.getvalue()


def test_the_admin_run_page_shows_the_timeline(at: object) -> None:
    run = _run_with_history(at)
    clock.set_source(None)
    user = get_user_model().objects.create_superuser("ops", "ops@example.com", "a-long-password-1")
    browser = Client()
    browser.force_login(user)

    page = browser.get(f"/admin/workflow/run/{run.id}/change/", follow=True)

    assert page.redirect_chain == [(f"/admin/runs/{run.id}/", 302)]  # the console's page of the run
    html = page.content.decode()
    assert 'Timeline — <span class="took">6.0 s</span>' in html
    assert 'class="bar succeeded" style="left: 0.0%; width: 33.33%"' in html
    assert 'class="bar failed"' in html
    assert "pool full" in html

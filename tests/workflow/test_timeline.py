"""How people follow a run in the admin: its timeline (``manage.py watch``, the terminal's
view, is tested in tests/tasks/test_watch.py)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from apps.kernel import clock
from apps.kernel.contracts import StepFailed, StepSucceeded
from apps.workflow import services
from apps.workflow.models import Run
from apps.workflow.plans import StepSpec

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

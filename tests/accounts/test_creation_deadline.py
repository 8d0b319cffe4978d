"""Waiting for Organizations to create the account is bounded by a deadline (30 minutes by
default, a blueprint may change it), not by the step's attempts: a slow creation no
longer fails the vend, and one that outlasts the deadline fails it with its own code."""

from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.accounts import api as accounts
from apps.kernel.errors import PermanentError, StillInProgress
from apps.workflow.plans import InvalidPlan, plan_from_blueprint
from tests.accounts.conftest import FakeClock
from tests.accounts.test_creation_quotas import create, organization_id, wait
from tests.accounts.test_quota_flow import MAX_ATTEMPTS, Broker, submit
from tests.support.faults import inject

pytestmark = pytest.mark.django_db

__all__ = ["organization_id"]  # a fixture of the creation tests, used here too


def test_a_creation_in_progress_for_40_polls_still_succeeds(
    api: APIClient, demo_payer: Any, settings: Any, fake_clock: FakeClock
) -> None:
    assert MAX_ATTEMPTS < 40  # more polls than a step has attempts
    inject(settings, "organizations:DescribeCreateAccountStatus:in_progress=40")
    request_id = submit(api, "slow")

    Broker(fake_clock).deliver(advance_clock=True)

    status = api.get(f"/v1/account-requests/{request_id}").json()
    assert status["status"] == "succeeded", status
    waited = next(step for step in status["steps"] if step["name"] == "wait_account")
    assert waited["attempts"] == 1  # 40 polls, none of them a failed attempt


def test_in_progress_past_the_deadline_fails_the_step(
    organization_id: str, settings: Any, fake_clock: FakeClock
) -> None:
    inject(settings, "organizations:DescribeCreateAccountStatus:in_progress=1000")
    create(0)
    fake_clock.advance(29 * 60)
    with pytest.raises(StillInProgress):
        wait(0)

    fake_clock.advance(60)
    with pytest.raises(PermanentError) as raised:
        wait(0)

    assert raised.value.code == "create_account_deadline_passed"
    assert not raised.value.retryable


def test_a_finished_creation_is_taken_even_after_the_deadline(
    organization_id: str, settings: Any, fake_clock: FakeClock
) -> None:
    create(0)
    fake_clock.advance(3 * 60 * 60)

    assert wait(0)["account_id"]


def test_a_blueprint_sets_the_deadline_and_the_poll_interval(db: None) -> None:
    plan = plan_from_blueprint(
        [{"name": "wait_account", "params": {"deadline_minutes": 90, "poll_seconds": 60}}, {"name": "iam"}]
    )

    names = [spec.name for spec in plan]
    assert names == ["create_account", "wait_account", "iam", "verify"]
    assert plan[1].params == {"deadline_minutes": 90, "poll_seconds": 60}
    assert plan[3].depends_on == ("wait_account", "iam")
    assert plan[3].params == {"expectations": {"iam": {}}}


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"name": "wait_account", "params": {"deadline_minutes": 0}}, "deadline_minutes must be a number"),
        ({"name": "wait_account", "params": {"deadline_minutes": "30"}}, "deadline_minutes must be a number"),
        ({"name": "wait_account", "params": {"poll_seconds": 3600}}, "poll_seconds must be a number"),
        ({"name": "wait_account", "params": {"timeout": 5}}, "does not take the parameter"),
        ({"name": "wait_account", "depends_on": []}, "only 'params'"),
    ],
)
def test_a_blueprint_with_a_bad_deadline_is_refused(db: None, entry: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidPlan) as refused:
        plan_from_blueprint([entry])

    assert message in str(refused.value)


def test_a_blueprint_with_a_deadline_is_saved(demo_payer: Any) -> None:
    definition = {"steps": [{"name": "wait_account", "params": {"deadline_minutes": 120}}]}

    saved = accounts.blueprint_save(payer_name="demo", name="patient", definition=definition)

    assert list(saved.steps) == definition["steps"]

"""An operator reapplies steps of a vend run from the admin's step runs: one reapply
command per request, which puts back what was changed outside Bespoke."""

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client

from apps.accounts.models import AccountCommand
from apps.workflow.models import StepRun
from tests.accounts.conftest import Vended
from tests.conftest import EmulatedAws
from tests.support.bus import drain

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(db: None) -> Client:
    browser = Client()
    browser.force_login(User.objects.create_superuser("ops", "ops@example.com", "pw"))
    return browser


def reapply(operator: Client, *steps: StepRun) -> str:
    page = operator.post(
        "/admin/workflow/steprun/", {"action": "reapply", "_selected_action": [s.pk for s in steps]}, follow=True
    )
    assert page.status_code == 200
    return page.content.decode()


def test_reapplying_a_step_puts_back_a_trail_deleted_outside_bespoke(
    vend: Callable[..., Vended], aws: EmulatedAws, operator: Client
) -> None:
    vended = vend()
    cloudtrail = aws.member_client("cloudtrail", account_id=vended.aws_account_id)
    cloudtrail.delete_trail(Name="bespoke-trail")
    chosen = StepRun.objects.filter(run__request_id=vended.request_id, name__in=["cloudtrail", "iam"])

    shown = reapply(operator, *chosen)
    drain()

    [command] = AccountCommand.objects.all()
    assert f"reapplying iam, cloudtrail (command {command.id})" in shown
    assert (command.command, command.params, command.requested_by_name) == (
        "reapply",
        {"steps": ["iam", "cloudtrail"]},
        "user:ops",
    )
    command.refresh_from_db()
    assert command.status == "succeeded"
    assert [t["Name"] for t in cloudtrail.describe_trails()["trailList"]] == ["bespoke-trail"]


def test_steps_that_cannot_be_reapplied_are_refused_with_a_message(
    vend: Callable[..., Vended], operator: Client
) -> None:
    vended = vend()
    create = StepRun.objects.get(run__request_id=vended.request_id, name="create_account")

    shown = reapply(operator, create)

    assert "only a vend run&#x27;s baseline and network steps can be reapplied" in shown
    assert not AccountCommand.objects.exists()

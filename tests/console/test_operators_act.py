"""Operators (the ``operators`` group, not superusers) are offered every admin action that
needs one of the contexts' own permissions, and each does its work when run through the
admin; deleting is offered to them nowhere."""

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.admin import ActionLocation
from django.test import Client
from django.urls import reverse

from apps.accounts.models import AccountCommand
from apps.intake.models import AccountRequest
from apps.kernel.models import DeadLetter
from apps.notifications.models import WebhookDelivery
from apps.workflow.models import StepRun
from project.celery import app
from tests.console import rows
from tests.console.actions import ACTIONS, offered
from tests.support.staff import OPERATORS, logged_in, staff_in

pytestmark = pytest.mark.django_db

DJANGO_PERMISSIONS = frozenset({"add", "change", "delete", "view"})


def operators_actions() -> list[tuple[str, str, str]]:
    """(admin URL name prefix, action, label:action) of every action needing a context's own permission."""
    return [
        (f"{model._meta.app_label}_{model._meta.model_name}", name, f"{model._meta.label_lower}:{name}")
        for model, _, location, name, func in ACTIONS
        if location == ActionLocation.CHANGE_LIST and set(func.allowed_permissions) - DJANGO_PERMISSIONS
    ]


@pytest.fixture
def made() -> dict[str, Any]:
    return rows.every_model()


@pytest.fixture
def operator() -> Client:
    return logged_in(staff_in(OPERATORS))


@pytest.fixture
def sent_tasks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What a redrive hands to the broker (task names), instead of sending it."""
    sent: list[str] = []
    monkeypatch.setattr(app, "send_task", lambda name, **options: sent.append(name))
    return sent


def run(operator: Client, changelist: str, action: str, *selected: Any, **extra: str) -> str:
    """Run ``action`` on ``selected`` from the changelist; the page the operator lands on."""
    page = operator.post(
        reverse(f"admin:{changelist}_changelist"),
        {"action": action, "_selected_action": [str(pk) for pk in selected], "index": "0", **extra},
        follow=True,
    )
    assert page.status_code == 200
    return page.content.decode()


@pytest.mark.parametrize(("changelist", "action", "label"), operators_actions(), ids=lambda v: str(v))
def test_operators_are_offered_every_action(
    made: dict[str, Any], operator: Client, changelist: str, action: str, label: str
) -> None:
    html = operator.get(reverse(f"admin:{changelist}_changelist")).content.decode()

    assert offered(html, action), f"{label} is not offered to operators"


def test_operators_are_offered_no_deletion(made: dict[str, Any], operator: Client) -> None:
    for model, _, _, name, _ in ACTIONS:
        if name != "delete_selected":
            continue
        meta = model._meta
        page = operator.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
        assert not offered(page.content.decode(), name), meta.label


# --- Each action, run by an operator -------------------------------------------------------


def approve(operator: Client, made: dict[str, Any], sent: list[str]) -> None:
    shown = run(operator, "intake_accountrequest", "approve", made["awaiting"])

    request = AccountRequest.objects.get(id=made["awaiting"])
    assert (request.status, request.approved_by) == ("accepted", "user:operator")
    assert "approved; provisioning starts." in shown


def reject(operator: Client, made: dict[str, Any], sent: list[str]) -> None:
    run(operator, "intake_accountrequest", "reject", made["awaiting"])

    assert AccountRequest.objects.get(id=made["awaiting"]).status == "cancelled"


def retry(operator: Client, made: dict[str, Any], sent: list[str]) -> None:
    shown = run(operator, "intake_accountrequest", "retry", made["failed"])

    assert "retrying from its failed steps." in shown
    assert AccountRequest.objects.get(id=made["failed"]).status == "provisioning"
    assert StepRun.objects.get(run=made["run"], name="iam").state in {"pending", "running"}


def cancel(operator: Client, made: dict[str, Any], sent: list[str]) -> None:
    accepted = rows.request("cancelled")

    run(operator, "intake_accountrequest", "cancel", accepted)

    request = AccountRequest.objects.get(id=accepted)
    assert (request.status, request.failure) == ("cancelled", "cancelled: cancelled by operator in the admin")


def reapply_baseline(operator: Client, made: dict[str, Any], sent: list[str]) -> None:
    shown = run(operator, "accounts_managedaccount", "reapply_baseline", made["account"].pk)

    command = AccountCommand.objects.get(account=made["account"], status="running")
    assert (command.command, command.params, command.requested_by_name) == (
        "reapply",
        {"steps": ["iam", "cloudtrail"]},
        "user:operator",
    )
    assert f"reapplying its baseline (command {command.id})" in shown


def approve_command(operator: Client, made: dict[str, Any], sent: list[str]) -> None:
    command = made["awaiting_command"]

    shown = run(operator, "accounts_accountcommand", "approve", command.pk)

    command.refresh_from_db()
    assert (command.status, command.approved_by) == ("running", "user:operator")
    assert command.account.status == "closing"
    assert "approved; it runs now" in shown


def reject_command(operator: Client, made: dict[str, Any], sent: list[str]) -> None:
    command = made["awaiting_command"]

    run(operator, "accounts_accountcommand", "reject", command.pk)

    command.refresh_from_db()
    assert (command.status, command.approved_by) == ("cancelled", "user:operator")
    assert command.account.status == "active"


def rotate_secret(operator: Client, made: dict[str, Any], sent: list[str]) -> None:
    from apps.notifications.models import WebhookSubscription

    subscription = WebhookSubscription.objects.get(id=made["delivery"].subscription_id)
    before = subscription.secret_encrypted

    shown = run(operator, "notifications_webhooksubscription", "rotate_secret", subscription.pk)

    subscription.refresh_from_db()
    assert subscription.secret_encrypted != before
    assert "it is not shown again" in shown


def reapply_steps(operator: Client, made: dict[str, Any], sent: list[str]) -> None:
    step = StepRun.objects.get(run=made["run"], name="iam")

    shown = run(operator, "workflow_steprun", "reapply", step.pk)

    command = AccountCommand.objects.get(account=made["account"], status="running")
    assert (command.command, command.params) == ("reapply", {"steps": ["iam"]})
    assert f"reapplying iam (command {command.id})" in shown


def redrive(operator: Client, made: dict[str, Any], sent: list[str]) -> None:
    run(operator, "kernel_deadletter", "redrive", made["dead_letter"].pk)

    letter = DeadLetter.objects.get(pk=made["dead_letter"].pk)
    assert (letter.state, letter.resolved_by) == ("redriven", "admin:operator")
    assert sent == ["intake.on_run_started"]


def discard(operator: Client, made: dict[str, Any], sent: list[str]) -> None:
    letter = made["dead_letter"]
    form = run(operator, "kernel_deadletter", "discard", letter.pk)
    assert 'name="reason"' in form  # the confirmation page asks why

    operator.post(
        reverse("admin:kernel_deadletter_changelist"),
        {"action": "discard", "_selected_action": [letter.pk], "confirm": "yes", "reason": "known outage"},
    )

    letter.refresh_from_db()
    assert (letter.state, letter.resolution, letter.resolved_by) == ("discarded", "known outage", "admin:operator")


def redeliver(operator: Client, made: dict[str, Any], sent: list[str]) -> None:
    shown = run(operator, "notifications_webhookdelivery", "redeliver", made["delivery"].pk)

    assert WebhookDelivery.objects.get(pk=made["delivery"].pk).state == "pending"
    assert "1 delivery(ies) queued again." in shown


RUNS: dict[str, Callable[[Client, dict[str, Any], list[str]], None]] = {
    "intake.accountrequest:approve": approve,
    "intake.accountrequest:reject": reject,
    "intake.accountrequest:retry": retry,
    "intake.accountrequest:cancel": cancel,
    "accounts.managedaccount:reapply_baseline": reapply_baseline,
    "accounts.accountcommand:approve": approve_command,
    "accounts.accountcommand:reject": reject_command,
    "notifications.webhooksubscription:rotate_secret": rotate_secret,
    "workflow.steprun:reapply": reapply_steps,
    "kernel.deadletter:redrive": redrive,
    "kernel.deadletter:discard": discard,
    "notifications.webhookdelivery:redeliver": redeliver,
}


def test_every_operators_action_is_run_below() -> None:
    # A new action gets a run of its own here, or this fails.
    assert set(RUNS) == {label for _, _, label in operators_actions()}


@pytest.mark.parametrize("label", sorted(RUNS))
def test_an_operator_runs_the_action(made: dict[str, Any], operator: Client, sent_tasks: list[str], label: str) -> None:
    RUNS[label](operator, made, sent_tasks)


def test_an_operator_cannot_approve_a_command_they_issued(made: dict[str, Any], operator: Client) -> None:
    """Four eyes in the admin too: the person who asked cannot approve."""
    from django.contrib.auth import get_user_model

    command = made["awaiting_command"]
    me = get_user_model().objects.get(username="operator")
    AccountCommand.objects.filter(pk=command.pk).update(requested_by=f"user:{me.pk}", requested_by_name="user:operator")

    shown = run(operator, "accounts_accountcommand", "approve", command.pk)

    command.refresh_from_db()
    assert command.status == "awaiting_approval"
    assert "cannot approve it" in shown

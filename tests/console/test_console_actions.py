"""The buttons of the console's pages: each posts to a console view that needs the
permission its admin action declares (403 without it, nothing changed), takes a CSRF
token, asks for confirmation first where it is destructive, and does its work through the
owning context — whose refusals (four eyes, a state it cannot leave) are shown."""

import html
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.test import Client

from apps.accounts.models import AccountCommand
from apps.audit.models import AuditEntry
from apps.console.actions import ACTIONS, Action
from apps.intake.models import AccountRequest
from apps.workflow.models import StepRun
from tests.console import rows
from tests.console.test_viewers_cannot_act import state
from tests.support.staff import OPERATORS, VIEWERS, logged_in, staff_in

pytestmark = pytest.mark.django_db

LABELS = sorted(f"{subject}:{name}" for subject, name in ACTIONS)


@pytest.fixture
def made() -> dict[str, Any]:
    made = rows.every_model()
    made["vended"], made["vended_run"] = rows.vended_request("ledger", aws_account_id="444444444444")
    made["accepted"] = rows.request("accepted")
    return made


@pytest.fixture
def operator() -> Client:
    return logged_in(staff_in(OPERATORS))


def url(label: str, made: dict[str, Any]) -> str:
    """Where ``label``'s button posts, for a thing in a state it applies to."""
    subject, name = label.split(":")
    subject_id = {
        "request:retry": made["failed"],
        "request:approve": made["awaiting"],
        "request:reject": made["awaiting"],
        "request:cancel": made["accepted"],
        "command:approve": made["awaiting_command"].pk,
        "command:reject": made["awaiting_command"].pk,
        "account:reapply": made["account"].pk,
        "run:reapply": made["vended_run"].pk,
    }[label]
    page = {"request": "requests", "command": "commands", "account": "managed-accounts", "run": "runs"}[subject]
    return f"/admin/{page}/{subject_id}/{name}/"


def press(client: Client, label: str, made: dict[str, Any], **extra: str) -> Any:
    """Press the button as the page does (confirmed, with a reason, where the action asks)."""
    action = ACTIONS[tuple(label.split(":"))]  # type: ignore[index]
    data = {"step": "iam", **extra}
    if action.destructive:
        data.setdefault("confirm", "yes")
    if action.asks_reason:
        data.setdefault("reason", "asked by the ticket's owner")
    return client.post(url(label, made), data, follow=True)


def shown(page: Any) -> str:
    """The page's text as a person reads it (entities decoded; the admin capitalises the
    first letter of each message)."""
    return html.unescape(page.content.decode())


def test_every_action_needs_a_permission_operators_hold_and_viewers_do_not() -> None:
    groups_ready = staff_in(VIEWERS, "v")  # makes the groups
    assert groups_ready
    for action in ACTIONS.values():
        app_label, codename = action.permission.split(".")
        permission = Permission.objects.get(content_type__app_label=app_label, codename=codename)
        assert Group.objects.get(name=OPERATORS).permissions.filter(pk=permission.pk).exists(), action
        assert not Group.objects.get(name=VIEWERS).permissions.filter(pk=permission.pk).exists(), action


# --- Each action, pressed by an operator -------------------------------------------------------------


def retry(made: dict[str, Any], shown: str) -> None:
    assert AccountRequest.objects.get(id=made["failed"]).status == "provisioning"
    assert "retrying from its failed steps." in shown


def approve(made: dict[str, Any], shown: str) -> None:
    request = AccountRequest.objects.get(id=made["awaiting"])
    assert (request.status, request.approved_by) == ("accepted", "user:operator")
    assert "approved; provisioning starts." in shown


def reject(made: dict[str, Any], shown: str) -> None:
    request = AccountRequest.objects.get(id=made["awaiting"])
    assert (request.status, request.failure) == ("cancelled", "rejected by user:operator: asked by the ticket's owner")


def cancel(made: dict[str, Any], shown: str) -> None:
    request = AccountRequest.objects.get(id=made["accepted"])
    assert request.status == "cancelled"
    assert request.failure == "cancelled: by operator in the console: asked by the ticket's owner"


def approve_command(made: dict[str, Any], shown: str) -> None:
    command = AccountCommand.objects.get(pk=made["awaiting_command"].pk)
    assert (command.status, command.approved_by) == ("running", "user:operator")
    assert "approved; it runs now." in shown


def reject_command(made: dict[str, Any], shown: str) -> None:
    command = AccountCommand.objects.get(pk=made["awaiting_command"].pk)
    assert (command.status, command.failure) == ("cancelled", "rejected by user:operator: asked by the ticket's owner")


def reapply_baseline(made: dict[str, Any], shown: str) -> None:
    command = AccountCommand.objects.get(account=made["account"], status="running")
    assert (command.command, command.params) == ("reapply", {"steps": ["iam", "cloudtrail"]})
    assert f"Reapplying the account's baseline (command {command.id[:8]})." in shown


def reapply_step(made: dict[str, Any], shown: str) -> None:
    command = AccountCommand.objects.get(account__request_id=made["vended"], status="running")
    assert (command.command, command.params, command.requested_by_name) == (
        "reapply",
        {"steps": ["iam"]},
        "user:operator",
    )
    assert f"Reapplying iam on the account (command {command.id[:8]})." in shown


DONE: dict[str, Callable[[dict[str, Any], str], None]] = {
    "request:retry": retry,
    "request:approve": approve,
    "request:reject": reject,
    "request:cancel": cancel,
    "command:approve": approve_command,
    "command:reject": reject_command,
    "account:reapply": reapply_baseline,
    "run:reapply": reapply_step,
}


def test_every_action_is_pressed_below() -> None:
    assert set(DONE) == set(LABELS)


@pytest.mark.parametrize("label", LABELS)
def test_an_operator_presses_the_button(made: dict[str, Any], operator: Client, label: str) -> None:
    page = press(operator, label, made)

    assert page.status_code == 200
    assert page.redirect_chain, "the action answers with a redirect to the page"
    DONE[label](made, shown(page))


# --- Refusals ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("label", LABELS)
def test_a_viewer_is_refused_every_action(made: dict[str, Any], label: str) -> None:
    viewer = logged_in(staff_in(VIEWERS))
    before = state()

    assert viewer.get(url(label, made)).status_code == 403
    assert press(viewer, label, made).status_code == 403

    assert state() == before


@pytest.mark.parametrize("label", LABELS)
def test_an_operator_without_that_one_permission_is_refused(made: dict[str, Any], label: str) -> None:
    action: Action = ACTIONS[tuple(label.split(":"))]  # type: ignore[index]
    app_label, codename = action.permission.split(".")
    almost = User.objects.create_user("almost", "almost@example.com", "a-long-staff-password", is_staff=True)
    staff_in(OPERATORS, "someone")  # the groups exist
    almost.user_permissions.set(
        Permission.objects.filter(group__name=OPERATORS).exclude(content_type__app_label=app_label, codename=codename)
    )
    browser = logged_in(almost)
    before = state()

    assert press(browser, label, made).status_code == 403

    assert state() == before


def test_a_post_without_the_csrf_token_is_refused(made: dict[str, Any]) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(staff_in(OPERATORS))

    answer = browser.post(url("request:retry", made), {})

    assert answer.status_code == 403
    assert AccountRequest.objects.get(id=made["failed"]).status == "failed"


def test_a_destructive_action_asks_first(made: dict[str, Any], operator: Client) -> None:
    asked = operator.get(url("request:cancel", made))
    posted = operator.post(url("request:cancel", made), {"reason": "no confirm"})

    for page in (asked, posted):
        text = shown(page)
        assert page.status_code == 200
        assert "the VPC's CIDR goes back to its pool" in text
        assert '<textarea id="reason" name="reason"' in text
        assert '<input type="hidden" name="confirm" value="yes">' in text
    assert AccountRequest.objects.get(id=made["accepted"]).status == "accepted"


def test_a_cancel_needs_a_reason(made: dict[str, Any], operator: Client) -> None:
    answer = operator.post(url("request:cancel", made), {"confirm": "yes", "reason": "  "})

    assert answer.status_code == 400
    assert "Say why" in answer.content.decode()
    assert AccountRequest.objects.get(id=made["accepted"]).status == "accepted"


def test_an_action_that_acts_at_once_is_never_a_get(made: dict[str, Any], operator: Client) -> None:
    assert operator.get(url("request:retry", made)).status_code == 405
    assert AccountRequest.objects.get(id=made["failed"]).status == "failed"


def test_the_operator_who_asked_for_a_command_cannot_approve_it(made: dict[str, Any]) -> None:
    me = staff_in(OPERATORS)
    command = made["awaiting_command"]
    AccountCommand.objects.filter(pk=command.pk).update(requested_by=f"user:{me.pk}", requested_by_name="user:operator")

    page = press(logged_in(me), "command:approve", made)

    command.refresh_from_db()
    assert command.status == "awaiting_approval"
    assert "User:operator issued this command and cannot approve it: someone else must." in shown(page)


def test_a_refusal_of_the_context_is_shown_as_worded(made: dict[str, Any], operator: Client) -> None:
    page = press(operator, "request:retry", made)  # retried: provisioning now
    again = press(operator, "request:retry", made)

    assert page.status_code == again.status_code == 200
    assert "Only a failed or cancelled request can be retried; this one is provisioning." in shown(again)


def test_a_step_that_is_not_the_blueprints_is_not_reapplied(made: dict[str, Any], operator: Client) -> None:
    page = press(operator, "run:reapply", made, step="create_account")

    assert "Create_account: only a vend run's baseline and network steps can be reapplied." in shown(page)
    assert not AccountCommand.objects.filter(account__request_id=made["vended"], status="running").exists()


def test_the_operator_returns_to_the_page_they_pressed_it_on(made: dict[str, Any], operator: Client) -> None:
    run = made["run"]

    page = operator.post(url("request:retry", made), {"next": f"/admin/runs/{run.pk}/"})
    elsewhere = operator.post(url("request:approve", made), {"next": "https://elsewhere.example.com/"})

    assert page["Location"] == f"/admin/runs/{run.pk}/"
    assert elsewhere["Location"] == f"/admin/requests/{made['awaiting']}/"
    assert StepRun.objects.filter(run=run, name="iam").exists()


def test_a_button_pressed_is_in_the_audit_log_with_what_it_changed(made: dict[str, Any], operator: Client) -> None:
    press(operator, "request:cancel", made)

    [entry] = AuditEntry.objects.filter(action="admin:console_request_cancel")
    assert (entry.actor_type, entry.actor, entry.status_code) == ("operator", "operator", 302)
    # The request is changed by an update the audit log does not see row by row; its run,
    # cancelled with it, is.
    assert "workflow.run" in {change["model"] for change in entry.after}

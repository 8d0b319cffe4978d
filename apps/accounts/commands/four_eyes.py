"""Four eyes: a command awaiting approval runs only once someone other than whoever
issued it approves it; whoever issued it may withdraw it, anyone allowed may reject it."""

from django.db import transaction

from apps.accounts import selectors
from apps.accounts.commands.errors import AccountProtected, AccountStateConflict, CommandStateConflict
from apps.accounts.commands.issuing import ALLOWED_FROM, DESTRUCTIVE, account_for_update, protection_of, start
from apps.accounts.commands.plans import plan_for
from apps.accounts.models import AccountCommand
from apps.clients import api as clients
from apps.kernel import clock
from apps.kernel.contracts import Actor
from apps.kernel.errors import FourEyes, NotFound


def _awaiting(*, command_id: str, account_identifier: str | None, viewer: clients.Principal | None) -> AccountCommand:
    command = (
        AccountCommand.objects.select_for_update()
        .select_related("account", "account__payer")
        .filter(id=command_id)
        .first()
    )
    visible = command is not None and (
        viewer is None or selectors.visible_accounts(viewer).filter(pk=command.account_id).exists()
    )
    if command is None or not visible:
        raise NotFound(f"No command {command_id}.", code="command_not_found")
    if account_identifier is not None and account_identifier not in (
        command.account.id,
        command.account.aws_account_id,
    ):
        raise NotFound(f"No command {command_id} on account {account_identifier}.", code="command_not_found")
    if command.status != AccountCommand.Status.AWAITING_APPROVAL:
        raise CommandStateConflict(
            f"Only a command awaiting approval can be approved or rejected; this one is {command.status}.",
            extra={"status": command.status},
        )
    return command


@transaction.atomic
def command_approve(
    *, command_id: str, approver: Actor, viewer: clients.Principal | None, account_identifier: str | None = None
) -> AccountCommand:
    """Approve a command awaiting approval: it runs from here. Never by whoever issued it
    (403 ``four_eyes``). What was checked at issue is checked again under the same locks
    (the account may have changed, the closure quota filled up meanwhile). Once only."""
    command = _awaiting(command_id=command_id, account_identifier=account_identifier, viewer=viewer)
    if approver.identity == command.requested_by:
        raise FourEyes(f"{approver.label} issued this command and cannot approve it: someone else must.")
    account = account_for_update(command.account_id)
    reason = protection_of(account)
    if reason and command.command in DESTRUCTIVE:
        raise AccountProtected(f"{command.command} refused: {reason}")
    allowed = ALLOWED_FROM[command.command]
    if account.status not in allowed:
        raise AccountStateConflict(
            f"The account is {account.status} now; {command.command} needs {', '.join(allowed)}.",
            extra={"status": account.status},
        )
    plan = plan_for(account, {"command": command.command, **command.params})
    command.status = AccountCommand.Status.RUNNING
    command.approved_by = approver.label
    command.approved_at = clock.now()
    command.save(update_fields=["status", "approved_by", "approved_at"])
    start(command, account, plan)
    return command


@transaction.atomic
def command_reject(
    *,
    command_id: str,
    approver: Actor,
    reason: str,
    viewer: clients.Principal | None,
    account_identifier: str | None = None,
) -> AccountCommand:
    """Refuse a command awaiting approval (whoever issued it may withdraw it): it ends
    cancelled and nothing happened to the account."""
    command = _awaiting(command_id=command_id, account_identifier=account_identifier, viewer=viewer)
    command.status = AccountCommand.Status.CANCELLED
    command.approved_by = approver.label
    command.approved_at = command.finished_at = clock.now()
    command.failure = f"rejected by {approver.label}: {reason}"
    command.save(update_fields=["status", "approved_by", "approved_at", "finished_at", "failure"])
    return command

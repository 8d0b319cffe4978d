"""Issuing a command on an account, and recording how its run ended.

Who may command which account: the caller must see the account (its payer and
environment are granted; 404 otherwise). ``close`` and ``move`` never touch an account
Bespoke does not manage (``unmanaged``/``discovered``), the payer's management account or
one the payer marks protected (409 ``account_protected``). Commands in
``COMMANDS_NEEDING_APPROVAL`` wait for a second party (``four_eyes``).
"""

from typing import Any

from django.db import transaction

from apps.accounts import selectors
from apps.accounts.commands.discovery import Discovered, look_up_in_organization, record_discovered
from apps.accounts.commands.errors import AccountProtected, AccountStateConflict, CommandRejected
from apps.accounts.commands.plans import Plan, account_inputs, plan_for
from apps.accounts.contracts import COMMANDS_NEEDING_APPROVAL, AccountCommandIssued
from apps.accounts.models import AccountCommand, ManagedAccount
from apps.accounts.services import account_update
from apps.clients import api as clients
from apps.kernel import catalog, clock, ids
from apps.kernel.contracts import Actor
from apps.kernel.errors import NotFound
from apps.kernel.outbox import record

# Which account statuses each command may start from.
ALLOWED_FROM: dict[str, tuple[str, ...]] = {
    AccountCommand.Command.REAPPLY: (ManagedAccount.Status.ACTIVE,),
    AccountCommand.Command.ADOPT: (ManagedAccount.Status.UNMANAGED,),
    AccountCommand.Command.MOVE: (ManagedAccount.Status.ACTIVE,),
    AccountCommand.Command.CLOSE: (ManagedAccount.Status.ACTIVE,),
}
# Commands that change where an account lives or whether it lives at all.
DESTRUCTIVE = (AccountCommand.Command.MOVE, AccountCommand.Command.CLOSE)


def protection_of(account: ManagedAccount) -> str | None:
    """Why Bespoke must never close or move ``account`` (None: it may)."""
    payer = account.payer
    if account.aws_account_id and account.aws_account_id == payer.management_account_id:
        return f"{account.aws_account_id} is payer {payer.name}'s management account."
    if account.aws_account_id and account.aws_account_id in (payer.protected_account_ids or []):
        return f"Payer {payer.name} marks {account.aws_account_id} protected."
    if account.status == ManagedAccount.Status.UNMANAGED or account.source == ManagedAccount.Source.DISCOVERED:
        return f"Bespoke does not manage {account.aws_account_id or account.id} (adopt it first)."
    return None


def command_issue(
    *, identifier: str, data: dict[str, Any], actor: Actor, viewer: clients.Principal | None
) -> AccountCommand:
    """Accept a command on the account ``identifier`` (Bespoke or AWS id) that ``viewer``
    (None: Bespoke itself) may see, issued by ``actor``.

    Most commands are handed to the workflow at once (``AccountCommandIssued``, in the
    same transaction); those in ``COMMANDS_NEEDING_APPROVAL`` wait for ``command_approve``.
    ``adopt`` may name an AWS account Bespoke does not know yet: it is looked up in the
    payer's Organization and recorded, unmanaged, in the same transaction as the command —
    so a refused adopt records nothing.
    """
    command = data["command"]
    account = selectors.account_find(identifier=identifier, viewer=viewer)
    discovered: Discovered | None = None
    if account is None and command == AccountCommand.Command.ADOPT and selectors.AWS_ACCOUNT_ID.match(identifier):
        discovered = look_up_in_organization(aws_account_id=identifier, data=data, viewer=viewer)
    if account is None and discovered is None:
        raise NotFound(f"No account {identifier}.", code="account_not_found")
    return _command_issue(account_pk=account.pk if account else None, discovered=discovered, data=data, actor=actor)


@transaction.atomic
def _command_issue(
    *, account_pk: str | None, discovered: Discovered | None, data: dict[str, Any], actor: Actor
) -> AccountCommand:
    account = account_for_update(account_pk) if account_pk else record_discovered(discovered)
    command = data["command"]
    if command in DESTRUCTIVE:
        reason = protection_of(account)
        if reason:
            raise AccountProtected(f"{command} refused: {reason}", extra={"command": command})
    if command == AccountCommand.Command.ADOPT and account.aws_account_id == account.payer.management_account_id:
        raise AccountProtected(f"adopt refused: {account.aws_account_id} is the payer's management account.")
    if account.status not in ALLOWED_FROM[command]:
        allowed = ", ".join(ALLOWED_FROM[command])
        raise AccountStateConflict(
            f"{command} needs an account that is {allowed}; this one is {account.status}.",
            extra={"status": account.status},
        )
    open_command = account.commands.filter(
        status__in=(AccountCommand.Status.AWAITING_APPROVAL, AccountCommand.Status.RUNNING)
    ).first()
    if open_command is not None:
        raise AccountStateConflict(
            f"Command {open_command.id} ({open_command.command}) is still {open_command.status} on this account.",
            extra={"command_id": open_command.id},
            code="command_in_progress",
        )
    if not account.aws_account_id:
        raise AccountStateConflict("The account has no AWS account id yet.")
    plan = plan_for(account, data)  # validates the body against the account (raises: nothing written)
    params = {key: value for key, value in data.items() if key != "command"}
    waits = command in COMMANDS_NEEDING_APPROVAL
    issued = AccountCommand.objects.create(
        id=ids.new_id(),
        account=account,
        command=command,
        params=params,
        status=AccountCommand.Status.AWAITING_APPROVAL if waits else AccountCommand.Status.RUNNING,
        account_status_before=account.status,
        client_id=actor.id if actor.kind == "client" else "",
        requested_by=actor.identity,
        requested_by_name=actor.label,
        created_at=clock.now(),
    )
    if not waits:
        start(issued, account, plan)
    return issued


def account_for_update(account_pk: str) -> ManagedAccount:
    return ManagedAccount.objects.select_for_update().select_related("payer").get(pk=account_pk)


def start(command: AccountCommand, account: ManagedAccount, plan: Plan) -> None:
    """Hand the command to the workflow (in the caller's transaction)."""
    steps, inputs, blueprint = plan
    if command.command == AccountCommand.Command.CLOSE:
        account_update(account, status=ManagedAccount.Status.CLOSING)
    record(
        AccountCommandIssued(
            command_id=command.id,
            account_id=account.id,
            command=command.command,
            steps=steps,
            inputs={**inputs, "command_id": command.id},
            blueprint_name=blueprint.name if blueprint else "",
            blueprint_version=blueprint.version if blueprint else None,
        )
    )


# --- How a command's run ended; operators' shortcuts -------------------------------------------


@transaction.atomic
def command_finish(*, command_id: str, status: str, failure: str = "") -> bool:
    """Record how a command's run ended. A close that did not happen gives the account
    back its status from before. Idempotent: only a running command changes; False if
    nothing did."""
    command = (
        AccountCommand.objects.select_for_update()
        .select_related("account")
        .filter(id=command_id, status=AccountCommand.Status.RUNNING)
        .first()
    )
    if command is None:
        return False
    command.status = status
    command.failure = failure
    command.finished_at = clock.now()
    command.save(update_fields=["status", "failure", "finished_at"])
    account = command.account
    if (
        status != AccountCommand.Status.SUCCEEDED
        and command.command == AccountCommand.Command.CLOSE
        and account.status == ManagedAccount.Status.CLOSING
    ):
        account_update(account, status=command.account_status_before or ManagedAccount.Status.ACTIVE)
    return True


def account_reapply_baseline(*, account_id: str, actor: Actor) -> AccountCommand:
    """Reapply every step of the account's blueprint (an operator's action)."""
    account = ManagedAccount.objects.select_related("payer").get(id=account_id)
    regulated = bool(account_inputs(account).get("regulated"))
    blueprint = selectors.blueprint_for(payer=account.payer.name, environment=account.environment, regulated=regulated)
    if blueprint is None or not blueprint.steps:
        raise CommandRejected(f"Payer {account.payer.name} has no blueprint with steps for this account.")
    steps = [str(entry["name"]) for entry in blueprint.steps]
    return command_issue(
        identifier=account.id,
        data={"command": AccountCommand.Command.REAPPLY, "steps": steps},
        actor=actor,
        viewer=None,
    )


def account_reapply_steps(*, request_id: str, steps: list[str], actor: Actor) -> str:
    """Reapply ``steps`` on the account vended for ``request_id`` (an operator's action on
    a run's steps); the id of the reapply command."""
    account = ManagedAccount.objects.filter(request_id=request_id).first()
    if account is None:
        raise NotFound(f"Request {request_id} has no account to reapply steps on.", code="account_not_found")
    command = command_issue(
        identifier=account.id,
        data={"command": AccountCommand.Command.REAPPLY, "steps": steps},
        actor=actor,
        viewer=None,
    )
    return str(command.id)


def account_reapply_tasks(*, identifier: str, legacy_names: tuple[str, ...], actor: Actor, viewer: Any) -> str:
    """Reapply the steps of the account's blueprint that report ``legacy_names`` (the
    original service's task names) on the account ``identifier`` ``viewer`` may see; the
    id of the reapply command. A blueprint step the catalog does not know reports its
    ``legacy_name`` entry, else its name in upper case."""
    account = selectors.account_find(identifier=identifier, viewer=viewer)
    if account is None:
        raise NotFound(f"No account {identifier}.", code="account_not_found")
    regulated = bool(account_inputs(account).get("regulated"))
    blueprint = selectors.blueprint_for(payer=account.payer.name, environment=account.environment, regulated=regulated)
    steps = [
        str(entry["name"]) for entry in (blueprint.steps if blueprint else ()) if _legacy_name(entry) in legacy_names
    ]
    if not steps:
        raise NotFound(
            f"The blueprint of {identifier} has no step for {', '.join(legacy_names)}.", code="step_not_in_blueprint"
        )
    command = command_issue(
        identifier=account.id,
        data={"command": AccountCommand.Command.REAPPLY, "steps": steps},
        actor=actor,
        viewer=viewer,
    )
    return str(command.id)


def _legacy_name(entry: dict[str, Any]) -> str:
    name = str(entry.get("name", ""))
    if catalog.known(name):
        return catalog.get(name).legacy_name
    return str(entry.get("legacy_name") or name.upper())

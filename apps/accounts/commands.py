"""Commands on existing accounts: reapply blueprint steps, adopt, move, close.

Who may command which account: the caller must see the account (its payer and
environment are granted; 404 otherwise). ``close`` and ``move`` never touch an account
Bespoke does not manage (``unmanaged``/``discovered``), the payer's management account or
one the payer marks protected (409 ``account_protected``). ``close`` waits in
``awaiting_approval`` until someone other than whoever issued it approves (four eyes).
A command that is refused leaves nothing behind — not even the row of an account it
looked up in the Organization.
"""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction

from apps.accounts import selectors
from apps.accounts.contracts import COMMANDS_NEEDING_APPROVAL, AccountCommandIssued, BlueprintPlan
from apps.accounts.models import AccountCommand, ManagedAccount, Payer
from apps.accounts.services import account_update
from apps.clients import api as clients
from apps.cloud import api as cloud
from apps.kernel import clock, ids
from apps.kernel.contracts import Actor
from apps.kernel.errors import ApplicationError, Conflict, FourEyes, NotFound, StepError
from apps.kernel.outbox import record
from apps.workflow import api as workflow


class CommandRejected(ApplicationError):
    """The command's body does not make sense for this account (400)."""

    code = "invalid_command"


class AccountStateConflict(Conflict):
    """The account's status (or a command still open on it) forbids the command."""

    code = "account_state_conflict"


class AccountProtected(Conflict):
    """Closing or moving an account Bespoke must never close or move."""

    code = "account_protected"


class CommandStateConflict(Conflict):
    """Only a command awaiting approval can be approved or rejected."""

    code = "command_state_conflict"


class ClosureQuotaExceeded(Conflict):
    code = "closure_quota_exceeded"


class OrganizationsUnavailable(ApplicationError):
    """Organizations could not be asked about the account; the client may try again."""

    code = "organizations_unavailable"
    status_code = 503


# Which account statuses each command may start from.
_ALLOWED_FROM: dict[str, tuple[str, ...]] = {
    AccountCommand.Command.REAPPLY: (ManagedAccount.Status.ACTIVE,),
    AccountCommand.Command.ADOPT: (ManagedAccount.Status.UNMANAGED,),
    AccountCommand.Command.MOVE: (ManagedAccount.Status.ACTIVE,),
    AccountCommand.Command.CLOSE: (ManagedAccount.Status.ACTIVE,),
}
# Commands that change where an account lives or whether it lives at all.
_DESTRUCTIVE = (AccountCommand.Command.MOVE, AccountCommand.Command.CLOSE)
CLOSURE_WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class _Discovered:
    """An AWS account of a payer's Organization Bespoke has no row for yet."""

    payer: Payer
    aws_account_id: str
    described: dict[str, Any]


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
    discovered: _Discovered | None = None
    if account is None and command == AccountCommand.Command.ADOPT and selectors.AWS_ACCOUNT_ID.match(identifier):
        discovered = _look_up_in_organization(aws_account_id=identifier, data=data, viewer=viewer)
    if account is None and discovered is None:
        raise NotFound(f"No account {identifier}.", code="account_not_found")
    return _command_issue(account_pk=account.pk if account else None, discovered=discovered, data=data, actor=actor)


@transaction.atomic
def _command_issue(
    *, account_pk: str | None, discovered: _Discovered | None, data: dict[str, Any], actor: Actor
) -> AccountCommand:
    account = _account_for_update(account_pk) if account_pk else _record_discovered(discovered)
    command = data["command"]
    if command in _DESTRUCTIVE:
        reason = protection_of(account)
        if reason:
            raise AccountProtected(f"{command} refused: {reason}", extra={"command": command})
    if command == AccountCommand.Command.ADOPT and account.aws_account_id == account.payer.management_account_id:
        raise AccountProtected(f"adopt refused: {account.aws_account_id} is the payer's management account.")
    if account.status not in _ALLOWED_FROM[command]:
        allowed = ", ".join(_ALLOWED_FROM[command])
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
    plan = _plan(account, data)  # validates the body against the account (raises: nothing written)
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
        _start(issued, account, plan)
    return issued


def _account_for_update(account_pk: str) -> ManagedAccount:
    return ManagedAccount.objects.select_for_update().select_related("payer").get(pk=account_pk)


_Plan = tuple[list[dict[str, Any]], dict[str, Any], BlueprintPlan | None]


def _plan(account: ManagedAccount, data: dict[str, Any]) -> _Plan:
    builders = {
        AccountCommand.Command.REAPPLY: _reapply_plan,
        AccountCommand.Command.ADOPT: _adopt_plan,
        AccountCommand.Command.MOVE: _move_plan,
        AccountCommand.Command.CLOSE: _close_plan,
    }
    return builders[data["command"]](account, data)


def _start(command: AccountCommand, account: ManagedAccount, plan: _Plan) -> None:
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


# --- Four eyes ---------------------------------------------------------------------------


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
    account = _account_for_update(command.account_id)
    reason = protection_of(account)
    if reason and command.command in _DESTRUCTIVE:
        raise AccountProtected(f"{command.command} refused: {reason}")
    allowed = _ALLOWED_FROM[command.command]
    if account.status not in allowed:
        raise AccountStateConflict(
            f"The account is {account.status} now; {command.command} needs {', '.join(allowed)}.",
            extra={"status": account.status},
        )
    plan = _plan(account, {"command": command.command, **command.params})
    command.status = AccountCommand.Status.RUNNING
    command.approved_by = approver.label
    command.approved_at = clock.now()
    command.save(update_fields=["status", "approved_by", "approved_at"])
    _start(command, account, plan)
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


# --- Plans of each command ------------------------------------------------------------------


def _reapply_plan(account: ManagedAccount, data: dict[str, Any]) -> _Plan:
    """The chosen steps of the account's blueprint, then ``verify`` of just those."""
    inputs = _account_inputs(account)
    blueprint = selectors.blueprint_for(
        payer=account.payer.name, environment=account.environment, regulated=bool(inputs.get("regulated"))
    )
    by_name = {str(entry["name"]): entry for entry in (blueprint.steps if blueprint else ())}
    wanted = list(dict.fromkeys(data["steps"]))
    missing = [name for name in wanted if name not in by_name]
    if missing:
        raise CommandRejected(
            f"Not in the account's blueprint: {', '.join(missing)}.",
            extra={"blueprint": blueprint.name if blueprint else None, "steps": sorted(by_name)},
            code="step_not_in_blueprint",
        )
    chosen = [by_name[name] for name in by_name if name in wanted]  # the blueprint's order
    return _with_verify(_blueprint_steps(chosen, first=None)), inputs, blueprint


def _adopt_plan(account: ManagedAccount, data: dict[str, Any]) -> _Plan:
    """``adopt_account`` (the account is reachable and becomes managed), then the payer's
    blueprint for the environment, then ``verify``."""
    payer = account.payer
    if data.get("payer") not in (None, payer.name):
        raise CommandRejected(f"Account {account.aws_account_id} belongs to payer {payer.name}.", code="wrong_payer")
    _check_allowed(payer, environment=data["environment"], region=data["region"])
    inputs = {
        **_account_inputs(account, region=data["region"]),
        "environment": data["environment"],
    }
    blueprint = selectors.blueprint_for(payer=payer.name, environment=data["environment"], regulated=False)
    steps = [
        {"name": "adopt_account", "params": {"environment": data["environment"]}, "depends_on": []},
        *_blueprint_steps(list(blueprint.steps) if blueprint else [], first="adopt_account"),
    ]
    return _with_verify(steps), inputs, blueprint


def _move_plan(account: ManagedAccount, data: dict[str, Any]) -> _Plan:
    steps = [{"name": "move_account", "params": {"ou_id": data["ou"]}, "depends_on": []}]
    return steps, _account_inputs(account), None


def _close_plan(account: ManagedAccount, data: dict[str, Any]) -> _Plan:
    """Closing is checked against the confirmation and the payer's closure quota; the
    payer's row is locked so that two closures at once cannot both take the last place."""
    if data["confirm"] != account.aws_account_id:
        raise CommandRejected(
            "To close an account, 'confirm' must repeat its 12-digit AWS account id.", code="confirmation_mismatch"
        )
    payer = Payer.objects.select_for_update().get(pk=account.payer_id)
    counted = selectors.closures_counted(
        payer=payer, since=clock.now() - CLOSURE_WINDOW, except_account_id=str(account.pk)
    )
    if counted >= payer.closures_per_30_days:
        raise ClosureQuotaExceeded(
            f"Payer {payer.name} may close at most {payer.closures_per_30_days} accounts in 30 days"
            f" and has {counted} closed or closing.",
            extra={"quota": payer.closures_per_30_days, "counted": counted},
        )
    steps = [{"name": "close_account", "params": {}, "depends_on": []}]
    return steps, _account_inputs(account), None


def _blueprint_steps(entries: list[dict[str, Any]], *, first: str | None) -> list[dict[str, Any]]:
    """Blueprint entries as plan steps: a dependency on account creation becomes one on
    ``first`` (or none), and dependencies on steps not in the plan are dropped."""
    names = {str(entry["name"]) for entry in entries}
    steps = []
    for entry in entries:
        name = str(entry["name"])
        depends = entry.get("depends_on", workflow.CATALOG[name].default_depends_on)
        kept = [d for d in depends if d in names]
        if first is not None and any(d in ("create_account", "wait_account") for d in depends):
            kept.insert(0, first)
        steps.append(
            {
                "name": name,
                "params": dict(entry.get("params") or {}),
                "depends_on": kept,
                "max_attempts": int(entry.get("max_attempts") or 0),
            }
        )
    return steps


def _with_verify(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    expectations = {s["name"]: s["params"] for s in steps if s["name"] in workflow.blueprint_steps()}
    verify = {"name": "verify", "params": {"expectations": expectations}, "depends_on": [s["name"] for s in steps]}
    return [*steps, verify]


def _account_inputs(account: ManagedAccount, *, region: str | None = None) -> dict[str, Any]:
    """What every step of a command's run receives: the account's vend run's inputs and
    outputs (a VPC's id, say) when Bespoke vended it, else what Bespoke knows of it; the
    payer's current settings; the account's ids."""
    payer = account.payer
    base: dict[str, Any] = {}
    if account.request_id:
        run = workflow.run_for_request(request_id=account.request_id)
        if run is not None:
            base = dict(run.params)
            for step in run.steps:
                if step.state == "succeeded":
                    base.update(step.outputs)
    if not base:
        adoption = (
            account.commands.filter(command=AccountCommand.Command.ADOPT, status=AccountCommand.Status.SUCCEEDED)
            .order_by("-created_at")
            .first()
        )
        allowed_regions = list(payer.allowed_regions or [])
        base = {
            "request_id": account.id,  # what tags and network allocations are keyed by
            "payer": payer.name,
            "environment": account.environment,
            "region": (adoption.params.get("region") if adoption else None)
            or (allowed_regions[0] if allowed_regions else settings.AWS_DEFAULT_REGION),
            "regulated": False,
            "account_email": account.email,
            "account_name": account.name,
            "tags": dict(account.tags or {}),
            "vpc": {},
        }
    if region is not None:
        base["region"] = region
    base.pop("step_params", None)
    return {
        **base,
        "payer_settings": selectors.payer_settings(name=payer.name),
        "account_id": account.aws_account_id,
        "managed_account_id": account.id,
    }


def _check_allowed(payer: Payer, *, environment: str, region: str) -> None:
    problems = {}
    if payer.allowed_environments and environment not in payer.allowed_environments:
        problems["environment"] = [f"Payer {payer.name} allows {', '.join(payer.allowed_environments)}."]
    if payer.allowed_regions and region not in payer.allowed_regions:
        problems["region"] = [f"Payer {payer.name} allows {', '.join(payer.allowed_regions)}."]
    if problems:
        raise CommandRejected("The command's body is invalid for this payer.", extra={"fields": problems})


# --- Accounts found in the Organization -------------------------------------------------------


def _look_up_in_organization(
    *, aws_account_id: str, data: dict[str, Any], viewer: clients.Principal | None
) -> _Discovered:
    """Describe an AWS account Bespoke does not know in the payer's Organization (the
    caller must be granted that payer and the environment it adopts into). Writes nothing."""
    payer_name = data.get("payer")
    if not payer_name:
        raise CommandRejected(
            "Account unknown to Bespoke: name the 'payer' whose Organization holds it.",
            extra={"fields": {"payer": ["Required to adopt an account Bespoke does not know."]}},
        )
    if viewer is not None:
        viewer.access.require(payer_name, data.get("environment"))
    payer = Payer.objects.filter(name=payer_name, active=True).first()
    if payer is None:
        raise CommandRejected(f"No payer {payer_name}.", extra={"fields": {"payer": ["Unknown payer."]}})
    # Another payer's row for this AWS id would be a different account record: adopt that one.
    if ManagedAccount.objects.filter(aws_account_id=aws_account_id).exclude(payer=payer).exists():
        raise NotFound(f"No account {aws_account_id} in payer {payer.name}.", code="account_not_found")
    org = cloud.client("organizations", session=cloud.management_session(role_arn=payer.management_role_arn or None))
    try:
        with cloud.aws_errors("DescribeAccount"):
            described = org.describe_account(AccountId=aws_account_id)["Account"]
    except StepError as error:
        if error.code == "AccountNotFoundException":
            raise NotFound(
                f"No account {aws_account_id} in payer {payer.name}'s Organization.", code="account_not_found"
            ) from error
        raise OrganizationsUnavailable(f"Organizations could not describe {aws_account_id}: {error.message}") from error
    return _Discovered(payer=payer, aws_account_id=aws_account_id, described=dict(described))


def _record_discovered(discovered: _Discovered | None) -> ManagedAccount:
    """The row of an account found in the Organization, ``unmanaged`` (in the command's
    transaction: it goes if the command is refused). A row another call made meanwhile
    is reused."""
    assert discovered is not None
    Payer.objects.select_for_update().get(pk=discovered.payer.pk)  # one discovery per payer at a time
    now = clock.now()
    described = discovered.described
    account, _ = ManagedAccount.objects.select_for_update().get_or_create(
        payer=discovered.payer,
        aws_account_id=discovered.aws_account_id,
        defaults={
            "id": ids.new_id(),
            "source": ManagedAccount.Source.DISCOVERED,
            "status": (
                ManagedAccount.Status.UNMANAGED if described["Status"] == "ACTIVE" else ManagedAccount.Status.CLOSED
            ),
            "email": described["Email"],
            "name": described["Name"][:50],
            "last_seen_at": now,
            "created_at": now,
            "updated_at": now,
        },
    )
    return ManagedAccount.objects.select_for_update().select_related("payer").get(pk=account.pk)


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
    regulated = bool(_account_inputs(account).get("regulated"))
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

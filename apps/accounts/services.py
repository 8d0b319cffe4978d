from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction

from apps.accounts import selectors
from apps.accounts.contracts import AccountCommandIssued, BlueprintPlan
from apps.accounts.models import AccountCommand, Blueprint, BlueprintVersion, ManagedAccount, Payer
from apps.cloud import api as cloud
from apps.kernel import clock, ids
from apps.kernel.errors import ApplicationError, Conflict, NotFound, StepError
from apps.kernel.outbox import record
from apps.workflow import api as workflow


@transaction.atomic
def payer_upsert(
    *,
    name: str,
    management_account_id: str,
    email_division: str,
    email_domain: str,
    allowed_environments: list[str],
    allowed_regions: list[str],
    display_name: str = "",
    management_role_arn: str = "",
    member_role_name: str = "OrganizationAccountAccessRole",
    parent_ou_id: str = "",
    log_archive_bucket: str = "",
    saml_provider_name: str = "bespoke-idp",
    saml_metadata_document: str = "",
    dns_domain: str = "",
    approval_required_for_regulated: bool = False,
) -> Payer:
    payer, _ = Payer.objects.update_or_create(
        name=name,
        defaults={
            "display_name": display_name,
            "management_account_id": management_account_id,
            "management_role_arn": management_role_arn,
            "member_role_name": member_role_name,
            "email_division": email_division,
            "email_domain": email_domain,
            "allowed_environments": allowed_environments,
            "allowed_regions": allowed_regions,
            "parent_ou_id": parent_ou_id,
            "log_archive_bucket": log_archive_bucket,
            "saml_provider_name": saml_provider_name,
            "saml_metadata_document": saml_metadata_document,
            "dns_domain": dns_domain,
            "approval_required_for_regulated": approval_required_for_regulated,
            "active": True,
        },
    )
    payer.full_clean()
    return payer


def account_start(
    *,
    request_id: str,
    payer_name: str,
    email: str,
    name: str,
    environment: str = "",
    tags: dict[str, str] | None = None,
) -> ManagedAccount:
    """The account record for a request, created on first call (idempotent), with the
    request's environment and tags so accounts can be listed by them."""
    now = clock.now()
    account, _ = ManagedAccount.objects.get_or_create(
        request_id=request_id,
        defaults={
            "id": ids.new_id(),
            "payer": Payer.objects.get(name=payer_name),
            "email": email,
            "name": name,
            "environment": environment,
            "tags": {key: str(value) for key, value in (tags or {}).items()},
            "created_at": now,
            "updated_at": now,
        },
    )
    return account


def account_update(account: ManagedAccount, **changes: Any) -> None:
    """Change fields of the account. An account leaving ``creating`` (active or failed)
    gives back its in-flight creation slot in the same write, whoever changes it."""
    for field, value in changes.items():
        setattr(account, field, value)
    account.updated_at = clock.now()
    fields = [*changes, "updated_at"]
    if account.status != ManagedAccount.Status.CREATING and _slot_open(account):
        account.slot_released_at = account.updated_at
        fields.append("slot_released_at")
    account.save(update_fields=fields)


def account_release_slot(account: ManagedAccount) -> None:
    """Give back the in-flight creation slot of an account that turned out not to need
    creating (an earlier attempt's account was found). Idempotent."""
    if _slot_open(account):
        account.slot_released_at = account.updated_at = clock.now()
        account.save(update_fields=["slot_released_at", "updated_at"])


def account_restart_creation(account: ManagedAccount) -> None:
    """Forget a creation Organizations refused, so that a deliberate retry (an operator's
    redrive, a retried run) asks again instead of polling the refused request."""
    account_update(account, status=ManagedAccount.Status.CREATING, failure_reason="", create_request_id="")


@transaction.atomic
def account_abandon_creation(*, request_id: str) -> None:
    """The request's run was cancelled: if its creation never reached Organizations,
    give back its in-flight slot and its place in the queue for one. A creation already
    requested stays counted (it is in flight at AWS) until it ends or its lease runs out.
    Idempotent."""
    account = ManagedAccount.objects.select_for_update().filter(request_id=request_id).first()
    if account is None or account.create_request_id or account.aws_account_id:
        return
    if account.slot_requested_at is not None:
        account.slot_requested_at = None
        account.save(update_fields=["slot_requested_at"])
    account_release_slot(account)


def _slot_open(account: ManagedAccount) -> bool:
    return account.slot_taken_at is not None and account.slot_released_at is None


class InvalidBlueprint(ApplicationError):
    code = "invalid_blueprint"


def blueprint_validate(definition: Any) -> None:
    """A definition must be ``{"steps": [...]}`` and make a valid plan (known steps, a DAG)."""
    if not isinstance(definition, dict) or set(definition) != {"steps"}:
        raise InvalidBlueprint('A blueprint definition is an object with one key, "steps".')
    try:
        workflow.plan_from_blueprint(definition["steps"])
    except workflow.InvalidPlan as error:
        raise InvalidBlueprint(str(error)) from error


@transaction.atomic
def blueprint_save(
    *,
    payer_name: str,
    name: str,
    definition: dict[str, Any],
    environment: str = "",
    regulated: bool = False,
    description: str = "",
    saved_by: str = "",
) -> Blueprint:
    """Create or change a blueprint. A changed definition becomes a new version; runs
    already started keep the version they pinned."""
    blueprint_validate(definition)
    payer = Payer.objects.get(name=payer_name)
    now = clock.now()
    blueprint = Blueprint.objects.select_for_update().filter(payer=payer, name=name).first()
    if blueprint is None:
        blueprint = Blueprint.objects.create(
            id=ids.new_id(),
            payer=payer,
            name=name,
            description=description,
            environment=environment,
            regulated=regulated,
            definition=definition,
            version=1,
            updated_at=now,
        )
    else:
        changed = blueprint.definition != definition
        blueprint.description = description
        blueprint.environment = environment
        blueprint.regulated = regulated
        blueprint.updated_at = now
        if changed:
            blueprint.definition = definition
            blueprint.version += 1
        blueprint.save()
        if not changed:
            return blueprint
    BlueprintVersion.objects.create(
        blueprint=blueprint, version=blueprint.version, definition=definition, created_at=now, created_by=saved_by
    )
    return blueprint


# --- Commands on existing accounts ------------------------------------------------------


class CommandRejected(ApplicationError):
    """The command's body does not make sense for this account (400)."""

    code = "invalid_command"


class AccountStateConflict(Conflict):
    """The account's status (or a command still running on it) forbids the command."""

    code = "account_state_conflict"


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
    AccountCommand.Command.MOVE: (ManagedAccount.Status.ACTIVE, ManagedAccount.Status.UNMANAGED),
    AccountCommand.Command.CLOSE: (ManagedAccount.Status.ACTIVE, ManagedAccount.Status.UNMANAGED),
}
CLOSURE_WINDOW = timedelta(days=30)


def command_issue(*, identifier: str, data: dict[str, Any], client_id: str) -> AccountCommand:
    """Accept a command on the account ``identifier`` (Bespoke or AWS id) and ask the
    workflow to run it (``AccountCommandIssued``, in the same transaction).

    ``data`` is the validated body. ``adopt`` may name an AWS account Bespoke does not
    know yet: it is looked up in the payer's Organization first and recorded unmanaged.
    """
    command = data["command"]
    account = selectors.account_find(identifier=identifier)
    if account is None and command == AccountCommand.Command.ADOPT and selectors.AWS_ACCOUNT_ID.match(identifier):
        account = _account_discover(aws_account_id=identifier, payer_name=data.get("payer"))
    if account is None:
        raise NotFound(f"No account {identifier}.", code="account_not_found")
    return _command_issue(account_pk=account.pk, data=data, client_id=client_id)


@transaction.atomic
def _command_issue(*, account_pk: str, data: dict[str, Any], client_id: str) -> AccountCommand:
    account = ManagedAccount.objects.select_for_update().select_related("payer").get(pk=account_pk)
    command = data["command"]
    if account.status not in _ALLOWED_FROM[command]:
        allowed = ", ".join(_ALLOWED_FROM[command])
        raise AccountStateConflict(
            f"{command} needs an account that is {allowed}; this one is {account.status}.",
            extra={"status": account.status},
        )
    running = account.commands.filter(status=AccountCommand.Status.RUNNING).first()
    if running is not None:
        raise AccountStateConflict(
            f"Command {running.id} ({running.command}) is still running on this account.",
            extra={"command_id": running.id},
            code="command_in_progress",
        )
    if not account.aws_account_id:
        raise AccountStateConflict("The account has no AWS account id yet.")
    builders = {
        AccountCommand.Command.REAPPLY: _reapply_plan,
        AccountCommand.Command.ADOPT: _adopt_plan,
        AccountCommand.Command.MOVE: _move_plan,
        AccountCommand.Command.CLOSE: _close_plan,
    }
    steps, inputs, blueprint = builders[command](account, data)
    params = {key: value for key, value in data.items() if key != "command"}
    issued = AccountCommand.objects.create(
        id=ids.new_id(),
        account=account,
        command=command,
        params=params,
        account_status_before=account.status,
        client_id=client_id[:36],
        created_at=clock.now(),
    )
    if command == AccountCommand.Command.CLOSE:
        account_update(account, status=ManagedAccount.Status.CLOSING)
    record(
        AccountCommandIssued(
            command_id=issued.id,
            account_id=account.id,
            command=command,
            steps=steps,
            inputs={**inputs, "command_id": issued.id},
            blueprint_name=blueprint.name if blueprint else "",
            blueprint_version=blueprint.version if blueprint else None,
        )
    )
    return issued


_Plan = tuple[list[dict[str, Any]], dict[str, Any], BlueprintPlan | None]


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
    counted = selectors.closures_counted(payer=payer, since=clock.now() - CLOSURE_WINDOW)
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
    expectations = {s["name"]: s["params"] for s in steps if s["name"] in workflow.BLUEPRINT_STEPS}
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


def _account_discover(*, aws_account_id: str, payer_name: str | None) -> ManagedAccount:
    """Record an AWS account Bespoke does not know yet, as found in the payer's
    Organization (``DescribeAccount``), ``unmanaged``. Idempotent: a second call finds
    the row the first made."""
    if not payer_name:
        raise CommandRejected(
            "Account unknown to Bespoke: name the 'payer' whose Organization holds it.",
            extra={"fields": {"payer": ["Required to adopt an account Bespoke does not know."]}},
        )
    payer = Payer.objects.filter(name=payer_name, active=True).first()
    if payer is None:
        raise CommandRejected(f"No payer {payer_name}.", extra={"fields": {"payer": ["Unknown payer."]}})
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
    now = clock.now()
    with transaction.atomic():
        account = ManagedAccount.objects.select_for_update().filter(payer=payer, aws_account_id=aws_account_id).first()
        if account is None:
            account = ManagedAccount.objects.create(
                id=ids.new_id(),
                payer=payer,
                aws_account_id=aws_account_id,
                source=ManagedAccount.Source.DISCOVERED,
                status=(
                    ManagedAccount.Status.UNMANAGED if described["Status"] == "ACTIVE" else ManagedAccount.Status.CLOSED
                ),
                email=described["Email"],
                name=described["Name"][:50],
                last_seen_at=now,
                created_at=now,
                updated_at=now,
            )
    return account


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


def account_reapply_baseline(*, account_id: str, issued_by: str) -> AccountCommand:
    """Reapply every step of the account's blueprint (an operator's action)."""
    account = ManagedAccount.objects.select_related("payer").get(id=account_id)
    regulated = bool(_account_inputs(account).get("regulated"))
    blueprint = selectors.blueprint_for(payer=account.payer.name, environment=account.environment, regulated=regulated)
    if blueprint is None or not blueprint.steps:
        raise CommandRejected(f"Payer {account.payer.name} has no blueprint with steps for this account.")
    steps = [str(entry["name"]) for entry in blueprint.steps]
    return command_issue(
        identifier=account.id, data={"command": AccountCommand.Command.REAPPLY, "steps": steps}, client_id=issued_by
    )


def account_reapply_steps(*, request_id: str, steps: list[str], issued_by: str) -> str:
    """Reapply ``steps`` on the account vended for ``request_id`` (an operator's action on
    a run's steps); the id of the reapply command."""
    account = ManagedAccount.objects.filter(request_id=request_id).first()
    if account is None:
        raise NotFound(f"Request {request_id} has no account to reapply steps on.", code="account_not_found")
    command = command_issue(
        identifier=account.id, data={"command": AccountCommand.Command.REAPPLY, "steps": steps}, client_id=issued_by
    )
    return str(command.id)

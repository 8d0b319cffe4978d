"""What each command runs: its steps, the inputs every step receives, and the blueprint
they come from. Building a plan checks the command's body against the account and
writes nothing (it raises instead)."""

from datetime import timedelta
from typing import Any

from django.conf import settings

from apps.accounts import selectors
from apps.accounts.commands.errors import ClosureQuotaExceeded, CommandRejected
from apps.accounts.contracts import BlueprintPlan
from apps.accounts.models import AccountCommand, ManagedAccount, Payer
from apps.kernel import clock
from apps.workflow import api as workflow

CLOSURE_WINDOW = timedelta(days=30)

Plan = tuple[list[dict[str, Any]], dict[str, Any], BlueprintPlan | None]


def plan_for(account: ManagedAccount, data: dict[str, Any]) -> Plan:
    builders = {
        AccountCommand.Command.REAPPLY: _reapply_plan,
        AccountCommand.Command.ADOPT: _adopt_plan,
        AccountCommand.Command.MOVE: _move_plan,
        AccountCommand.Command.CLOSE: _close_plan,
    }
    return builders[data["command"]](account, data)


def _reapply_plan(account: ManagedAccount, data: dict[str, Any]) -> Plan:
    """The chosen steps of the account's blueprint, then ``verify`` of just those."""
    inputs = account_inputs(account)
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


def _adopt_plan(account: ManagedAccount, data: dict[str, Any]) -> Plan:
    """``adopt_account`` (the account is reachable and becomes managed), then the payer's
    blueprint for the environment, then ``verify``."""
    payer = account.payer
    if data.get("payer") not in (None, payer.name):
        raise CommandRejected(f"Account {account.aws_account_id} belongs to payer {payer.name}.", code="wrong_payer")
    _check_allowed(payer, environment=data["environment"], region=data["region"])
    inputs = {
        **account_inputs(account, region=data["region"]),
        "environment": data["environment"],
    }
    blueprint = selectors.blueprint_for(payer=payer.name, environment=data["environment"], regulated=False)
    steps = [
        {"name": "adopt_account", "params": {"environment": data["environment"]}, "depends_on": []},
        *_blueprint_steps(list(blueprint.steps) if blueprint else [], first="adopt_account"),
    ]
    return _with_verify(steps), inputs, blueprint


def _move_plan(account: ManagedAccount, data: dict[str, Any]) -> Plan:
    steps = [{"name": "move_account", "params": {"ou_id": data["ou"]}, "depends_on": []}]
    return steps, account_inputs(account), None


def _close_plan(account: ManagedAccount, data: dict[str, Any]) -> Plan:
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
    return steps, account_inputs(account), None


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


def account_inputs(account: ManagedAccount, *, region: str | None = None) -> dict[str, Any]:
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

"""What a run does: its steps, who runs each, and what each waits for.

A plan is a DAG: a step is dispatched once every step it depends on has succeeded (or
was skipped). ``context`` names the bounded context that runs the step, and so the
queue its ``RunStep`` commands travel on.

Plans are built from blueprints (the accounts context stores them; operators edit
them): every plan starts by creating the account and ends by verifying it, and the
blueprint chooses the baseline and network steps in between, their parameters and,
if it wants, their dependencies.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class StepSpec:
    name: str
    context: str
    depends_on: tuple[str, ...] = ()
    required: bool = True
    legacy_name: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    max_attempts: int = 0  # 0: the deployment's default


@dataclass(frozen=True)
class StepType:
    """A step Bespoke knows: who runs it, what the original service called it, and what it
    waits for unless a blueprint says otherwise."""

    context: str
    legacy_name: str
    default_depends_on: tuple[str, ...] = ()


CATALOG: dict[str, StepType] = {
    "create_account": StepType("accounts", "CLA_SUBMISSION"),
    "wait_account": StepType("accounts", "CLA_CREATION", ("create_account",)),
    "iam": StepType("baseline", "IAM", ("wait_account",)),
    "cloudtrail": StepType("baseline", "CLOUDTRAIL", ("wait_account",)),
    "config": StepType("baseline", "CONFIG", ("wait_account",)),
    "support": StepType("baseline", "ENTSUPPORT", ("wait_account",)),
    "vpc": StepType("network", "VPC", ("wait_account",)),
    "flow_logs": StepType("network", "VPCFLOWLOGS", ("vpc",)),
    "dns": StepType("network", "VPCDNS", ("vpc",)),
    "direct_connect": StepType("network", "DIRECTCONNECT", ("vpc",)),
    "verify": StepType("compliance", "CONFIGURATION_CHECK"),
    # Steps of commands on existing accounts (apps/accounts), never in a blueprint.
    "adopt_account": StepType("accounts", "ACCOUNT_ADOPTION"),
    "move_account": StepType("accounts", "ACCOUNT_MOVE"),
    "close_account": StepType("accounts", "ACCOUNT_CLOSURE"),
}
# Every plan has these; a blueprint lists only what comes between them.
IMPLICIT_STEPS = ("create_account", "wait_account", "verify")
COMMAND_STEPS = ("adopt_account", "move_account", "close_account")
BLUEPRINT_STEPS = tuple(name for name in CATALOG if name not in IMPLICIT_STEPS + COMMAND_STEPS)


def _spec(name: str, **overrides: Any) -> StepSpec:
    step_type = CATALOG[name]
    values: dict[str, Any] = {
        "context": step_type.context,
        "legacy_name": step_type.legacy_name,
        "depends_on": step_type.default_depends_on,
    }
    values.update(overrides)
    return StepSpec(name=name, **values)


ACCOUNT_CREATION: tuple[StepSpec, ...] = (_spec("create_account"), _spec("wait_account"))


class InvalidPlan(ValueError):
    pass


_STEP_KEYS = {"name", "params", "depends_on", "required", "max_attempts"}


def plan_from_blueprint(steps: Sequence[Mapping[str, Any]]) -> tuple[StepSpec, ...]:
    """The full plan for a blueprint's steps: account creation, the blueprint's steps,
    then ``verify``, which reads back what every other step built.

    Raises ``InvalidPlan`` with a message an operator can act on.
    """
    if not isinstance(steps, Sequence) or isinstance(steps, str):
        raise InvalidPlan("'steps' must be a list.")
    specs = list(ACCOUNT_CREATION)
    for index, entry in enumerate(steps):
        if not isinstance(entry, Mapping):
            raise InvalidPlan(f"Step {index + 1} must be an object.")
        unknown_keys = set(entry) - _STEP_KEYS
        if unknown_keys:
            raise InvalidPlan(f"Step {index + 1} has unknown keys: {', '.join(sorted(unknown_keys))}.")
        name = entry.get("name")
        if name not in BLUEPRINT_STEPS:
            raise InvalidPlan(
                f"Step {index + 1}: {name!r} is not a step a blueprint can use ({', '.join(BLUEPRINT_STEPS)})."
            )
        params = entry.get("params", {})
        if not isinstance(params, dict):
            raise InvalidPlan(f"Step {name}: 'params' must be an object.")
        depends_on = entry.get("depends_on", CATALOG[name].default_depends_on)
        if not isinstance(depends_on, list | tuple) or not all(isinstance(d, str) for d in depends_on):
            raise InvalidPlan(f"Step {name}: 'depends_on' must be a list of step names.")
        max_attempts = entry.get("max_attempts", 0)
        if not isinstance(max_attempts, int) or isinstance(max_attempts, bool) or not 0 <= max_attempts <= 50:
            raise InvalidPlan(f"Step {name}: 'max_attempts' must be an integer from 1 to 50.")
        required = entry.get("required", True)
        if not isinstance(required, bool):
            raise InvalidPlan(f"Step {name}: 'required' must be true or false.")
        specs.append(
            _spec(name, params=params, depends_on=tuple(depends_on), required=required, max_attempts=max_attempts)
        )
    chosen = [spec.name for spec in specs[len(ACCOUNT_CREATION) :]]
    specs.append(
        _spec(
            "verify",
            depends_on=("wait_account", *chosen),
            params={"expectations": {spec.name: spec.params for spec in specs if spec.name not in IMPLICIT_STEPS}},
        )
    )
    plan = tuple(specs)
    validate_plan(plan)
    return plan


def plan_from_steps(steps: Sequence[Mapping[str, Any]]) -> tuple[StepSpec, ...]:
    """A plan given step by step (a command on an existing account):
    ``[{"name", "params", "depends_on"}, ...]``, each a step of the catalog, run by the
    context the catalog names. Raises ``InvalidPlan``."""
    specs = []
    for entry in steps:
        name = entry.get("name")
        if name not in CATALOG:
            raise InvalidPlan(f"{name!r} is not a step Bespoke knows.")
        specs.append(
            _spec(
                str(name),
                params=dict(entry.get("params") or {}),
                depends_on=tuple(entry.get("depends_on") or ()),
                max_attempts=int(entry.get("max_attempts") or 0),
            )
        )
    plan = tuple(specs)
    if not plan:
        raise InvalidPlan("A plan needs at least one step.")
    validate_plan(plan)
    return plan


def validate_plan(plan: tuple[StepSpec, ...]) -> None:
    """Names unique, dependencies known, no cycles."""
    names = [spec.name for spec in plan]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise InvalidPlan(f"Step names must be unique: {', '.join(duplicates)} appear more than once.")
    known = set(names)
    for spec in plan:
        unknown = set(spec.depends_on) - known
        if unknown:
            raise InvalidPlan(f"Step {spec.name} depends on step(s) not in the plan: {', '.join(sorted(unknown))}.")
    remaining = {spec.name: set(spec.depends_on) for spec in plan}
    while remaining:
        ready = [name for name, deps in remaining.items() if not deps]
        if not ready:
            raise InvalidPlan(f"The steps {', '.join(sorted(remaining))} depend on each other in a cycle.")
        for name in ready:
            del remaining[name]
        for deps in remaining.values():
            deps.difference_update(ready)


def execution_order(plan: tuple[StepSpec, ...]) -> list[list[str]]:
    """The plan as waves of steps that can run in parallel, in order."""
    remaining = {spec.name: set(spec.depends_on) for spec in plan}
    waves: list[list[str]] = []
    while remaining:
        ready = sorted(name for name, deps in remaining.items() if not deps)
        if not ready:
            raise InvalidPlan("The plan has a cycle.")
        waves.append(ready)
        for name in ready:
            del remaining[name]
        for deps in remaining.values():
            deps.difference_update(ready)
    return waves

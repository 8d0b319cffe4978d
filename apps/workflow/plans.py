"""What a run does: its steps, who runs each, and what each waits for.

A plan is a DAG: a step is dispatched once every step it depends on has succeeded (or
was skipped). ``context`` names the bounded context that runs the step, and so the
queue its ``RunStep`` commands travel on.

Plans are built from blueprints (the accounts context stores them; operators edit
them): every plan starts by creating the account and ends by verifying it, and the
blueprint chooses the baseline and network steps in between, their parameters and,
if it wants, their dependencies.
"""

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from apps.kernel import catalog
from apps.kernel.contracts import BLUEPRINT, CREATION, VERIFICATION, StepDeclaration
from apps.kernel.errors import StepError


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
    waits for unless a blueprint says otherwise (from its context's declaration)."""

    context: str
    legacy_name: str
    default_depends_on: tuple[str, ...] = ()


class _Catalog(Mapping[str, StepType]):
    """The steps declared by the contexts this process loaded (``apps.kernel.catalog``),
    as the workflow sees them. Read at each use: contexts declare when Django starts."""

    def __getitem__(self, name: str) -> StepType:
        try:
            declared = catalog.get(name)
        except catalog.UnknownStep:
            raise KeyError(name) from None
        return StepType(declared.context, declared.legacy_name, declared.depends_on)

    def __iter__(self) -> Iterator[str]:
        return iter(catalog.names())

    def __len__(self) -> int:
        return len(catalog.names())


CATALOG: Mapping[str, StepType] = _Catalog()


def blueprint_steps() -> tuple[str, ...]:
    """The steps a blueprint may choose (between the account's creation and verify)."""
    return catalog.names(placement=BLUEPRINT)


def creation_steps() -> tuple[str, ...]:
    return catalog.names(placement=CREATION)


def _spec(name: str, **overrides: Any) -> StepSpec:
    step_type = CATALOG[name]
    values: dict[str, Any] = {
        "context": step_type.context,
        "legacy_name": step_type.legacy_name,
        "depends_on": step_type.default_depends_on,
    }
    values.update(overrides)
    return StepSpec(name=name, **values)


def account_creation() -> tuple[StepSpec, ...]:
    """The steps every vend starts with: create the account, wait for it."""
    return tuple(_spec(name) for name in creation_steps())


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
    creation = list(account_creation())
    allowed = blueprint_steps()
    specs = creation
    for index, entry in enumerate(steps):
        if not isinstance(entry, Mapping):
            raise InvalidPlan(f"Step {index + 1} must be an object.")
        unknown_keys = set(entry) - _STEP_KEYS
        if unknown_keys:
            raise InvalidPlan(f"Step {index + 1} has unknown keys: {', '.join(sorted(unknown_keys))}.")
        name = entry.get("name")
        if name in creation_steps() and catalog.get(name).default_params:
            _tune_creation(creation, entry)
            continue
        if name not in allowed:
            raise InvalidPlan(f"Step {index + 1}: {name!r} is not a step a blueprint can use ({', '.join(allowed)}).")
        params = entry.get("params", {})
        if not isinstance(params, dict):
            raise InvalidPlan(f"Step {name}: 'params' must be an object.")
        _check_params(catalog.get(name), params)
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
    creation_count = len(creation_steps())
    chosen = [spec.name for spec in specs[creation_count:]]
    verification = catalog.names(placement=VERIFICATION)
    for name in verification:
        specs.append(
            _spec(
                name,
                depends_on=(*(spec.name for spec in specs[creation_count - 1 : creation_count]), *chosen),
                params={"expectations": {spec.name: spec.params for spec in specs[creation_count:]}},
            )
        )
    plan = tuple(specs)
    validate_plan(plan)
    return plan


def _tune_creation(creation: list[StepSpec], entry: Mapping[str, Any]) -> None:
    """A blueprint entry naming a creation step that takes parameters (``wait_account``)
    gives it parameters (its deadline, say); it stays where every plan has it."""
    name = str(entry["name"])
    if set(entry) - {"name", "params"}:
        raise InvalidPlan(f"Step {name}: a blueprint may give the account's creation steps only 'params'.")
    params = entry.get("params", {})
    if not isinstance(params, dict):
        raise InvalidPlan(f"Step {name}: 'params' must be an object.")
    _check_params(catalog.get(name), params)
    index = next(i for i, spec in enumerate(creation) if spec.name == name)
    creation[index] = _spec(name, params=params)


def _check_params(declaration: StepDeclaration, params: dict[str, Any]) -> None:
    """The step's own check of a blueprint's parameters (it checks them again when it runs)."""
    if not declaration.check_params:
        return
    try:
        catalog.resolve(declaration.check_params)(declaration.name, params)
    except StepError as error:
        raise InvalidPlan(error.message) from error  # the step names itself


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

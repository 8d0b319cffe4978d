"""What a run does: its steps, who runs each, and what each waits for.

A plan is a DAG: a step is dispatched once every step it depends on has succeeded (or
was skipped). ``context`` names the bounded context that runs the step, and so the
queue its ``RunStep`` commands travel on.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class StepSpec:
    name: str
    context: str
    depends_on: tuple[str, ...] = ()
    required: bool = True
    legacy_name: str = ""


ACCOUNT_CREATION: tuple[StepSpec, ...] = (
    StepSpec("create_account", "accounts", legacy_name="CLA_SUBMISSION"),
    StepSpec("wait_account", "accounts", depends_on=("create_account",), legacy_name="CLA_CREATION"),
)


class InvalidPlan(ValueError):
    pass


def validate_plan(plan: tuple[StepSpec, ...]) -> None:
    """Names unique, dependencies known, no cycles."""
    names = [spec.name for spec in plan]
    if len(names) != len(set(names)):
        raise InvalidPlan("Step names must be unique.")
    known = set(names)
    for spec in plan:
        unknown = set(spec.depends_on) - known
        if unknown:
            raise InvalidPlan(f"Step {spec.name} depends on unknown step(s): {', '.join(sorted(unknown))}.")
    remaining = {spec.name: set(spec.depends_on) for spec in plan}
    while remaining:
        ready = [name for name, deps in remaining.items() if not deps]
        if not ready:
            raise InvalidPlan(f"The steps {', '.join(sorted(remaining))} depend on each other in a cycle.")
        for name in ready:
            del remaining[name]
        for deps in remaining.values():
            deps.difference_update(ready)

"""The ``verify`` step: read back what the run built and fail precisely if anything is
missing (the original service's CONFIGURATION_CHECK)."""

from collections.abc import Mapping
from typing import Any

from apps.kernel import catalog
from apps.kernel.contracts import PlanFacts, ReadBack
from apps.kernel.errors import PermanentError
from apps.kernel.steps import StepContext


def verify(context: StepContext) -> dict[str, Any]:
    """Check the member account against the run's blueprint: each step the blueprint ran
    reads back what it built (its declared ``read_back``, from the step catalog).

    Read-only, so idempotent by construction. ``step_params.expectations`` holds the
    parameters of every step the blueprint ran; the outputs of those steps (VPC and
    subnet ids, the hosted zone, the flow log) are among the inputs and say which
    resources to look at.
    """
    inputs = context.inputs
    expectations: dict[str, Mapping[str, Any]] = {
        name: dict(params or {}) for name, params in dict(inputs.get("step_params", {}).get("expectations", {})).items()
    }
    context.require("payer_settings")
    context.require("account_id")
    problems: list[str] = []
    for name, params in expectations.items():
        declared = catalog.get(name) if catalog.known(name) else None
        if declared is None or not declared.read_back:
            continue
        check = ReadBack(inputs=inputs, params=params, expectations=expectations)
        problems += catalog.resolve(declared.read_back)(check)
    if problems:
        raise PermanentError(
            f"Verification found {len(problems)} problem(s): " + "; ".join(problems), code="verification_failed"
        )
    return {"verified": sorted(expectations)}


def describe_verify(given: Mapping[str, Any], facts: PlanFacts) -> list[str]:
    return ["(reads back everything above)"]

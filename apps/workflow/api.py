"""The workflow context's public surface."""

from apps.workflow.contracts import RunFailed, RunStarted, RunSucceeded, RunSummary, StepSummary
from apps.workflow.plans import (
    ACCOUNT_CREATION,
    BLUEPRINT_STEPS,
    CATALOG,
    InvalidPlan,
    StepSpec,
    execution_order,
    plan_from_blueprint,
)
from apps.workflow.selectors import run_for_request, run_get

__all__ = [
    "ACCOUNT_CREATION",
    "BLUEPRINT_STEPS",
    "CATALOG",
    "InvalidPlan",
    "RunFailed",
    "RunStarted",
    "RunSucceeded",
    "RunSummary",
    "StepSpec",
    "StepSummary",
    "execution_order",
    "plan_from_blueprint",
    "run_for_request",
    "run_get",
]

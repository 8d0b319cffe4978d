"""The workflow context's public surface."""

from apps.workflow import services
from apps.workflow.contracts import (
    ACCOUNT_COMMAND,
    ACCOUNT_REQUEST,
    RunCancelled,
    RunFailed,
    RunFinish,
    RunResumed,
    RunStarted,
    RunSucceeded,
    RunSummary,
    StepOutcome,
    StepSummary,
)
from apps.workflow.plans import (
    CATALOG,
    InvalidPlan,
    StepSpec,
    account_creation,
    blueprint_steps,
    execution_order,
    plan_from_blueprint,
    plan_from_steps,
)
from apps.workflow.rest import RunSerializer, RunWithStepsSerializer, StepStatusSerializer, run_document
from apps.workflow.selectors import run_finishes, run_for_request, run_get, runs_find, step_outcomes
from apps.workflow.services import RunControlError, run_sweep_stuck

__all__ = [
    "ACCOUNT_COMMAND",
    "ACCOUNT_REQUEST",
    "CATALOG",
    "InvalidPlan",
    "RunCancelled",
    "RunControlError",
    "RunFailed",
    "RunFinish",
    "RunResumed",
    "RunSerializer",
    "RunStarted",
    "RunSucceeded",
    "RunSummary",
    "RunWithStepsSerializer",
    "StepOutcome",
    "StepSpec",
    "StepStatusSerializer",
    "StepSummary",
    "account_creation",
    "blueprint_steps",
    "execution_order",
    "plan_from_blueprint",
    "plan_from_steps",
    "run_cancel",
    "run_document",
    "run_finishes",
    "run_for_request",
    "run_get",
    "run_retry",
    "run_sweep_stuck",
    "runs_find",
    "step_outcomes",
]


def run_retry(*, request_id: str) -> RunSummary:
    """Retry the request's failed (or cancelled) run from where it stopped."""
    services.run_retry(request_id=request_id)
    summary = run_for_request(request_id=request_id)
    assert summary is not None
    return summary


def run_cancel(*, request_id: str, reason: str) -> RunSummary:
    """Stop the request's run (a request whose run hasn't started gets a cancelled one)."""
    services.run_cancel(request_id=request_id, reason=reason)
    summary = run_for_request(request_id=request_id)
    assert summary is not None
    return summary

"""The workflow context's event handlers. Each is idempotent through the inbox: the
messaging layer claims the message id in the same transaction as the effect."""

from apps.intake.contracts import AccountRequested
from apps.kernel.contracts import StepFailed, StepRetrying, StepSucceeded
from apps.workflow.plans import ACCOUNT_CREATION
from apps.workflow.services import run_start, step_record_failed, step_record_retrying, step_record_succeeded


def on_account_requested(event: AccountRequested) -> None:
    """Start the request's run (once per request: runs are unique per request id)."""
    run_start(request_id=event.request_id, params=event.run_params(), plan=ACCOUNT_CREATION)


def on_step_succeeded(event: StepSucceeded) -> None:
    step_record_succeeded(event)


def on_step_retrying(event: StepRetrying) -> None:
    step_record_retrying(event)


def on_step_failed(event: StepFailed) -> None:
    step_record_failed(event)

"""The accounts context's message handlers."""

from apps.accounts.services import account_abandon_creation
from apps.accounts.steps import STEPS
from apps.kernel.contracts import RunStep, StepFailed, StepSucceeded
from apps.kernel.steps import execute_step
from apps.workflow.contracts import RunCancelled


def run_step(command: RunStep, *, attempt: int, retry_delay: float | None) -> StepSucceeded | StepFailed | None:
    """Run one of this context's steps (idempotent: see each step's docstring)."""
    return execute_step(command, STEPS, attempt=attempt, retry_delay=retry_delay)


def on_run_cancelled(event: RunCancelled) -> None:
    """A cancelled run whose account creation never reached Organizations frees its
    in-flight creation slot for the next request. Idempotent: nothing to free, nothing done."""
    account_abandon_creation(request_id=event.request_id)

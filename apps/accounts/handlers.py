"""The accounts context's message handlers."""

from apps.accounts.commands import command_finish
from apps.accounts.models import AccountCommand
from apps.accounts.services import account_abandon_creation
from apps.kernel import catalog
from apps.kernel.contracts import RunStep, StepFailed, StepSucceeded
from apps.kernel.steps import execute_step
from apps.workflow.contracts import ACCOUNT_COMMAND, ACCOUNT_REQUEST, RunCancelled, RunFailed, RunSucceeded


def run_step(command: RunStep, *, attempt: int, retry_delay: float | None) -> StepSucceeded | StepFailed | None:
    """Run one of this context's steps (idempotent: see each step's docstring)."""
    return execute_step(command, catalog.runners("accounts"), attempt=attempt, retry_delay=retry_delay)


def on_run_cancelled(event: RunCancelled) -> None:
    """A cancelled run whose account creation never reached Organizations frees its
    in-flight creation slot for the next request. Idempotent: nothing to free, nothing done."""
    if event.kind != ACCOUNT_REQUEST:
        return
    account_abandon_creation(request_id=event.request_id)


def on_command_run_finished(event: RunSucceeded | RunFailed | RunCancelled) -> None:
    """A command's run ended: record it on the command (and undo a close that did not
    happen). Runs of account requests are not commands and are ignored. Idempotent:
    only a running command changes."""
    if event.kind != ACCOUNT_COMMAND:
        return
    if isinstance(event, RunSucceeded):
        command_finish(command_id=event.request_id, status=AccountCommand.Status.SUCCEEDED)
    elif isinstance(event, RunFailed):
        command_finish(
            command_id=event.request_id, status=AccountCommand.Status.FAILED, failure=f"{event.step}: {event.message}"
        )
    else:
        command_finish(command_id=event.request_id, status=AccountCommand.Status.CANCELLED, failure=event.reason)

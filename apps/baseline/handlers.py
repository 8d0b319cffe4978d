from apps.kernel import catalog
from apps.kernel.contracts import RunStep, StepFailed, StepSucceeded
from apps.kernel.steps import execute_step


def run_step(command: RunStep, *, attempt: int, retry_delay: float | None) -> StepSucceeded | StepFailed | None:
    """Run one of this context's steps (idempotent: see each step's docstring)."""
    return execute_step(command, catalog.runners("baseline"), attempt=attempt, retry_delay=retry_delay)

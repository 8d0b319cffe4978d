from apps.kernel import catalog
from apps.kernel.contracts import RunStep, StepFailed, StepSucceeded
from apps.kernel.steps import execute_step


def run_step(command: RunStep, *, attempt: int, retry_delay: float | None) -> StepSucceeded | StepFailed | None:
    """Run one of this context's steps (read-only checks: idempotent by construction)."""
    return execute_step(command, catalog.runners("compliance"), attempt=attempt, retry_delay=retry_delay)

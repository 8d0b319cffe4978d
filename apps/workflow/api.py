"""The workflow context's public surface."""

from apps.workflow.contracts import RunFailed, RunStarted, RunSucceeded, RunSummary, StepSummary
from apps.workflow.selectors import run_for_request

__all__ = ["RunFailed", "RunStarted", "RunSucceeded", "RunSummary", "StepSummary", "run_for_request"]

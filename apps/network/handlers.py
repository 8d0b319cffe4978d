"""The network context's message handlers."""

from apps.kernel import catalog
from apps.kernel.contracts import RunStep, StepFailed, StepSucceeded
from apps.kernel.steps import execute_step
from apps.network.services import cidr_release
from apps.network.vlans import vlan_release
from apps.workflow.contracts import RunCancelled, RunFailed


def run_step(command: RunStep, *, attempt: int, retry_delay: float | None) -> StepSucceeded | StepFailed | None:
    """Run one of this context's steps (idempotent: see each step's docstring)."""
    return execute_step(command, catalog.runners("network"), attempt=attempt, retry_delay=retry_delay)


def on_run_failed(event: RunFailed | RunCancelled) -> None:
    """A failed or cancelled run gives its CIDR blocks and its VLAN back to their pools.
    Idempotent: releasing a request that holds nothing live does nothing. (Retrying the
    run takes them again, the same ones if they are still free.)"""
    cidr_release(request_id=event.request_id)
    vlan_release(request_id=event.request_id)

"""Step leases: one delivery at a time executes a run's step; a holder that expired, or a
process of this host that died, is taken over; a stale holder's fence no longer counts."""

import socket
import subprocess
import sys
from datetime import timedelta
from typing import Any

import pytest

from apps.kernel import clock, leases
from apps.kernel.contracts import RunStep, StepSucceeded
from apps.kernel.models import OutboxMessage, StepLease
from apps.kernel.steps import StepContext, execute_step

pytestmark = pytest.mark.django_db


def take(message_id: str, seconds: float = 60) -> int | leases.Busy | leases.Done:
    return leases.acquire(run_id="run-1", step="create_account", message_id=message_id, attempt=1, seconds=seconds)


def test_a_second_delivery_is_refused_while_the_first_holds_the_step() -> None:
    assert take("first") == 1

    busy = take("second")

    assert isinstance(busy, leases.Busy)
    assert busy.message_id == "first"
    assert 0 < busy.seconds_left() <= 60


def test_a_redelivery_of_the_same_message_is_refused_too_while_its_holder_lives() -> None:
    assert take("first") == 1
    assert isinstance(take("first"), leases.Busy)


def test_a_released_lease_is_taken_with_the_next_fence_and_the_old_fence_no_longer_holds() -> None:
    assert take("first") == 1
    assert leases.release(run_id="run-1", step="create_account", fence=1)

    assert take("second") == 2
    assert not leases.holds(run_id="run-1", step="create_account", fence=1)
    assert not leases.release(run_id="run-1", step="create_account", fence=1)
    assert leases.holds(run_id="run-1", step="create_account", fence=2)


def test_an_expired_lease_is_taken_over() -> None:
    assert take("first", seconds=0.0) == 1
    assert take("second") == 2


def test_a_holder_process_of_this_host_that_died_is_taken_over_at_once() -> None:
    assert take("first") == 1
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    StepLease.objects.update(holder=f"{socket.gethostname()}:{int(gone.stdout)}")

    assert take("second") == 2


def test_a_holder_on_another_host_is_waited_for_until_its_lease_runs_out() -> None:
    assert take("first") == 1
    StepLease.objects.update(holder="elsewhere:1", expires_at=clock.now() + timedelta(seconds=30))

    assert isinstance(take("second"), leases.Busy)


def test_a_redispatch_sent_before_the_step_succeeded_does_not_run_it_again() -> None:
    """The stuck-run sweeper sent the step again while its first delivery was queued behind
    a backlog; the first ran and succeeded. The second finds the success recorded after it
    was sent: it runs nothing and records nothing. A command sent after the success (a
    retry asking for the step anew) runs."""
    runs: list[str] = []

    def step(context: StepContext) -> dict[str, Any]:
        runs.append(context.step)
        return {"done": True}

    first = RunStep(run_id="run-1", step="create_account", context="accounts")
    redispatch = RunStep(run_id="run-1", step="create_account", context="accounts")

    assert isinstance(execute_step(first, {"create_account": step}, attempt=1, retry_delay=1), StepSucceeded)
    assert execute_step(redispatch, {"create_account": step}, attempt=1, retry_delay=1) is None

    assert runs == ["create_account"]
    assert OutboxMessage.objects.filter(type="StepSucceeded").count() == 1
    lease = StepLease.objects.get()
    assert lease.succeeded_at is not None
    assert lease.succeeded_at >= redispatch.occurred_at
    assert (lease.fence, lease.message_id) == (1, first.message_id)

    retry = RunStep(run_id="run-1", step="create_account", context="accounts")
    assert isinstance(execute_step(retry, {"create_account": step}, attempt=1, retry_delay=1), StepSucceeded)
    assert runs == ["create_account", "create_account"]


def test_a_step_that_only_retried_is_not_done() -> None:
    assert take("first") == 1
    assert leases.release(run_id="run-1", step="create_account", fence=1)  # a retry, not a success
    asked_at = clock.now() - timedelta(seconds=60)

    assert (
        leases.acquire(
            run_id="run-1", step="create_account", message_id="second", attempt=1, seconds=60, asked_at=asked_at
        )
        == 2
    )

"""The inbox claim of an event, of a step's outcome, and a step's first lease, in real
transactions (committed and rolled back, not inside a test's own): a claim that is its
transaction's first write has no savepoint, so a duplicate marks the transaction for
rollback — nothing else of it may be lost, and the connection must serve the next
message as before."""

import threading
from typing import Any

import pytest
from django.db import close_old_connections, connection

from apps.intake.contracts import PROVISIONING
from apps.intake.models import AccountRequest
from apps.intake.services import request_create
from apps.kernel import inbox, leases
from apps.kernel.contracts import RunStep, StepSucceeded
from apps.kernel.models import OutboxMessage, ProcessedMessage, StepLease
from apps.kernel.steps import StepContext, execute_step
from apps.workflow.contracts import RunStarted
from tasks import consumers
from tasks.subscriptions import EVENT_SUBSCRIBERS
from tests.support import factories
from tests.support.factories import request_body

pytestmark = pytest.mark.django_db(transaction=True)

[ON_RUN_STARTED] = [s for s in EVENT_SUBSCRIBERS["RunStarted"] if s.name == "intake.on_run_started"]


def test_an_event_delivered_twice_is_applied_once_and_the_next_event_still_applies() -> None:
    factories.payer("demo", allowed_environments=["dev"], allowed_regions=["us-east-1"])
    first, second = (
        request_create(client_id="c", data=request_body(tags__project_short_name=name)).id for name in ("one", "two")
    )
    envelope = RunStarted(run_id="run-1", request_id=first).to_envelope()

    consumers.handle_event(ON_RUN_STARTED, envelope)
    consumers.handle_event(ON_RUN_STARTED, envelope)  # the duplicate: rolled back, no error
    assert not connection.in_atomic_block
    assert not connection.needs_rollback
    consumers.handle_event(ON_RUN_STARTED, RunStarted(run_id="run-2", request_id=second).to_envelope())

    assert AccountRequest.objects.get(id=first).status == PROVISIONING
    assert AccountRequest.objects.get(id=second).status == PROVISIONING
    assert ProcessedMessage.objects.filter(handler="intake.on_run_started").count() == 2


def test_a_first_write_claim_outside_any_transaction_refuses_the_duplicate() -> None:
    assert inbox.claim("h", "m-1", first_write=True)
    assert not inbox.claim("h", "m-1", first_write=True)
    assert inbox.claim("h", "m-2", first_write=True)
    assert ProcessedMessage.objects.filter(handler="h").count() == 2


def _command() -> RunStep:
    return RunStep(run_id="run-1", step="probe", context="tests")


def test_an_outcome_another_delivery_recorded_meanwhile_is_not_recorded_twice_and_the_lease_is_given_back() -> None:
    command = _command()

    def step(context: StepContext) -> dict[str, Any]:
        inbox.claim("step:probe", command.message_id)  # the other delivery records its outcome now
        return {"done": True}

    assert execute_step(command, {"probe": step}, attempt=1, retry_delay=1) is None

    assert not OutboxMessage.objects.filter(type="StepSucceeded").exists()
    lease = StepLease.objects.get(run_id="run-1", step="probe")
    assert lease.released_at is not None
    assert lease.succeeded_at is not None
    assert ProcessedMessage.objects.filter(handler="step:probe").count() == 1


def test_an_outcome_whose_lease_was_taken_over_is_neither_recorded_nor_claimed() -> None:
    command = _command()

    def step(context: StepContext) -> dict[str, Any]:
        StepLease.objects.filter(run_id="run-1", step="probe").update(fence=2, message_id="the-other-delivery")
        return {"done": True}

    assert execute_step(command, {"probe": step}, attempt=1, retry_delay=1) is None

    assert not OutboxMessage.objects.filter(type="StepSucceeded").exists()
    assert not ProcessedMessage.objects.exists()  # the holder's delivery can still record it
    assert StepLease.objects.get(run_id="run-1", step="probe").released_at is None


def test_a_step_that_succeeds_records_its_outcome_claim_and_release_together() -> None:
    outcome = execute_step(_command(), {"probe": lambda context: {"done": True}}, attempt=1, retry_delay=1)

    assert isinstance(outcome, StepSucceeded)
    assert OutboxMessage.objects.filter(type="StepSucceeded").count() == 1
    assert ProcessedMessage.objects.filter(handler="step:probe").count() == 1
    lease = StepLease.objects.get(run_id="run-1", step="probe")
    assert (lease.fence, lease.released_at is not None, lease.succeeded_at is not None) == (1, True, True)


def test_two_first_deliveries_at_once_get_one_lease() -> None:
    """The first lease of a step is inserted unless it exists, then locked: of two
    deliveries racing for it, one holds fence 1 and the other is told it is busy."""
    start = threading.Barrier(2)
    results: dict[str, Any] = {}

    def deliver(message_id: str) -> None:
        try:
            start.wait(10)
            results[message_id] = leases.acquire(
                run_id="run-1", step="probe", message_id=message_id, attempt=1, seconds=60
            )
        except Exception as error:  # pragma: no cover - reported by the assertion below
            results[message_id] = error
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=deliver, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sorted(type(result).__name__ for result in results.values()) == ["Busy", "int"], results
    assert [result for result in results.values() if isinstance(result, int)] == [1]
    assert StepLease.objects.count() == 1

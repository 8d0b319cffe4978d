"""The transactional outbox: events stored with the change, relayed after commit, swept
when the broker was away, and marked published once."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from kombu.exceptions import OperationalError

from apps.intake.models import AccountRequest
from apps.intake.services import request_create
from apps.kernel import clock
from apps.kernel.contracts import RunStep
from apps.kernel.logging import bound
from apps.kernel.models import OutboxMessage
from apps.kernel.outbox import mark_published, record
from apps.workflow.contracts import RunStarted
from project.celery import app as celery_app
from tasks import relay
from tasks.subscriptions import EVENT_SUBSCRIBERS, Subscriber, subscribers_for
from tests.support.factories import request_body

pytestmark = pytest.mark.django_db

CLIENT_ID = "00000000-0000-4000-8000-00000000c11e"
START = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Sent:
    name: str
    envelope: dict[str, Any]
    queue: str | None


class Broker:
    """Stands in for ``app.send_task``: records what was sent, or fails like a broker that is down."""

    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self.down = False

    def send_task(self, name: str, args: Any = None, kwargs: Any = None, **options: Any) -> None:
        if self.down:
            raise OperationalError("[Errno 111] Connection refused")
        [envelope] = args
        self.sent.append(Sent(name=name, envelope=envelope, queue=options.get("queue")))


@pytest.fixture
def broker(monkeypatch: pytest.MonkeyPatch) -> Broker:
    fake = Broker()
    monkeypatch.setattr(celery_app, "send_task", fake.send_task)
    return fake


@pytest.fixture
def now() -> Iterator[Callable[[timedelta], datetime]]:
    """The clock, frozen at START; call the fixture's value to move it forward."""
    current = [START]
    clock.set_source(lambda: current[0])

    def advance(by: timedelta) -> datetime:
        current[0] += by
        return current[0]

    yield advance
    clock.set_source(None)


def sends_for(envelope: dict[str, Any]) -> list[Sent]:
    """One Celery message per subscriber of ``envelope`` in tasks/subscriptions.py, on its queue."""
    return [Sent(subscriber.name, envelope, subscriber.queue) for subscriber in subscribers_for(envelope)]


def create_request() -> str:
    return request_create(client_id=CLIENT_ID, data=request_body()).id


def record_committed(message: RunStarted | RunStep) -> None:
    with transaction.atomic():
        record(message)


class Boom(Exception):
    pass


# --- Recording -------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_record_refuses_to_run_outside_a_transaction() -> None:
    with pytest.raises(RuntimeError, match=r"transaction\.atomic"):
        record(RunStarted(run_id="run-1", request_id="request-1"))

    assert not OutboxMessage.objects.exists()


def test_record_stores_the_envelope_with_its_type_aggregate_and_correlation_id(now: Any) -> None:
    message = RunStarted(run_id="run-1", request_id="request-1")

    with bound(request_id="http-request-7"), transaction.atomic():
        record(message)

    row = OutboxMessage.objects.get()
    assert row.message_id == message.message_id
    assert row.type == "RunStarted"
    assert row.aggregate_id == "run-1"
    assert row.envelope == message.to_envelope(correlation_id="http-request-7")
    assert row.recorded_at == START
    assert row.published_at is None
    assert row.publish_attempts == 0


def test_a_failure_after_saving_the_request_rolls_back_the_request_and_its_event(
    payer: None, broker: Broker, django_capture_on_commit_callbacks: Any
) -> None:
    def create_then_fail() -> None:
        with transaction.atomic():
            create_request()
            assert AccountRequest.objects.count() == 1
            assert OutboxMessage.objects.filter(type="AccountRequested").count() == 1
            raise Boom

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(Boom):
        create_then_fail()

    assert not AccountRequest.objects.exists()
    assert not OutboxMessage.objects.exists()
    assert broker.sent == []  # nothing is published for a transaction that rolled back


def test_the_request_is_not_saved_when_its_event_cannot_be_recorded(
    payer: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_record(message: Any) -> None:
        raise Boom("outbox insert failed")

    monkeypatch.setattr("apps.intake.services.record", failing_record)

    with pytest.raises(Boom):
        create_request()

    assert not AccountRequest.objects.exists()
    assert not OutboxMessage.objects.exists()


# --- Relaying after commit -----------------------------------------------------------


def test_after_commit_the_installed_publisher_relays_the_event_once_to_its_subscriber(
    payer: None, broker: Broker, now: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        create_request()
        assert broker.sent == []  # not before commit

    row = OutboxMessage.objects.get(type="AccountRequested")
    assert len(callbacks) == 1
    assert broker.sent == sends_for(row.envelope)
    assert Sent("workflow.on_account_requested", row.envelope, "q.workflow") in broker.sent
    assert row.published_at == START
    assert row.publish_attempts == 0


def test_an_event_with_several_subscribers_is_sent_once_to_each_on_its_own_queue(
    payer: None, broker: Broker, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    workflow = EVENT_SUBSCRIBERS["AccountRequested"][0]
    notifications = Subscriber("notifications.on_account_requested", "apps.notifications.handlers.on_requested")
    monkeypatch.setitem(EVENT_SUBSCRIBERS, "AccountRequested", (workflow, notifications))

    with django_capture_on_commit_callbacks(execute=True):
        create_request()

    row = OutboxMessage.objects.get(type="AccountRequested")
    assert broker.sent == [
        Sent("workflow.on_account_requested", row.envelope, "q.workflow"),
        Sent("notifications.on_account_requested", row.envelope, "q.notifications"),
    ]
    assert row.published_at is not None


def test_a_run_step_command_goes_only_to_the_step_runner_of_its_context(
    broker: Broker, django_capture_on_commit_callbacks: Any
) -> None:
    command = RunStep(run_id="run-1", step="create_account", context="accounts", inputs={"request_id": "r"})

    with django_capture_on_commit_callbacks(execute=True):
        record_committed(command)

    assert broker.sent == [Sent("accounts.run_step", command.to_envelope(), "q.accounts")]
    assert OutboxMessage.objects.get().published_at is not None


def test_a_command_for_a_context_nobody_runs_is_kept_unpublished_with_the_reason(broker: Broker) -> None:
    command = RunStep(run_id="run-1", step="vpc", context="nowhere")
    record_committed(command)

    relay.sweep(older_than_seconds=0)

    row = OutboxMessage.objects.get(message_id=command.message_id)
    assert not [sent for sent in broker.sent if sent.envelope["message_id"] == command.message_id]
    assert row.published_at is None
    assert row.parked_as == "no_subscribers"
    assert "nowhere" in row.last_error


@pytest.mark.django_db(transaction=True)
def test_a_real_commit_relays_and_a_real_rollback_does_not(broker: Broker) -> None:
    committed = RunStarted(run_id="run-1", request_id="request-1")
    record_committed(committed)

    def record_then_fail() -> None:
        with transaction.atomic():
            record(RunStarted(run_id="run-2", request_id="request-2"))
            raise Boom

    with pytest.raises(Boom):
        record_then_fail()

    assert broker.sent == sends_for(committed.to_envelope())
    assert Sent("intake.on_run_started", committed.to_envelope(), "q.intake") in broker.sent
    assert list(OutboxMessage.objects.values_list("message_id", flat=True)) == [committed.message_id]
    assert OutboxMessage.objects.get().published_at is not None


# --- Broker outages and the sweeper ----------------------------------------------------


def test_a_broker_outage_does_not_break_the_caller_and_leaves_the_event_for_the_sweeper(
    payer: None, broker: Broker, django_capture_on_commit_callbacks: Any
) -> None:
    broker.down = True
    with django_capture_on_commit_callbacks() as callbacks:
        request_id = create_request()
    for callback in callbacks:
        callback()  # the after-commit relay swallows the broker's error itself

    row = OutboxMessage.objects.get(type="AccountRequested")
    assert AccountRequest.objects.filter(id=request_id).exists()
    assert broker.sent == []
    assert row.published_at is None
    assert row.publish_attempts == 1
    assert "OperationalError" in row.last_error
    assert "Connection refused" in row.last_error

    broker.down = False
    assert relay.sweep(older_than_seconds=0) == 1

    row.refresh_from_db()
    assert broker.sent == sends_for(row.envelope)
    assert row.published_at is not None
    assert relay.sweep(older_than_seconds=0) == 0
    assert broker.sent == sends_for(row.envelope)


def test_a_sweep_during_the_outage_counts_another_failed_attempt(broker: Broker) -> None:
    broker.down = True
    record_committed(RunStarted(run_id="run-1", request_id="request-1"))

    for _ in range(2):
        with pytest.raises(OperationalError):
            relay.sweep(older_than_seconds=0)

    row = OutboxMessage.objects.get()
    assert row.publish_attempts == 2
    assert row.published_at is None


def test_the_sweeper_leaves_messages_younger_than_its_threshold_to_the_fast_path(
    broker: Broker, now: Callable[[timedelta], datetime]
) -> None:
    message = RunStarted(run_id="run-1", request_id="request-1")
    record_committed(message)

    assert relay.sweep(older_than_seconds=30) == 0
    now(timedelta(seconds=31))
    assert relay.sweep(older_than_seconds=30) == 1

    assert broker.sent == sends_for(message.to_envelope())


def test_messages_are_relayed_in_the_order_they_were_recorded(broker: Broker) -> None:
    messages = [RunStarted(run_id=f"run-{n}", request_id=f"request-{n}") for n in range(5)]
    with transaction.atomic():
        for message in messages:
            record(message)

    relay.sweep(older_than_seconds=0)

    relayed = [sent.envelope["message_id"] for sent in broker.sent]
    assert list(dict.fromkeys(relayed)) == [m.message_id for m in messages]


def test_publishing_a_message_twice_sends_it_and_marks_it_once(
    broker: Broker, now: Callable[[timedelta], datetime]
) -> None:
    message = RunStarted(run_id="run-1", request_id="request-1")
    record_committed(message)

    assert relay.publish([message.message_id]) == 1
    now(timedelta(minutes=5))
    assert relay.publish([message.message_id]) == 0
    assert relay.sweep(older_than_seconds=0) == 0
    mark_published(message.message_id)

    row = OutboxMessage.objects.get()
    assert broker.sent == sends_for(message.to_envelope())
    assert row.published_at == START


@pytest.mark.django_db(transaction=True)
def test_the_fast_path_sends_the_row_it_stored_without_reading_it_back(broker: Broker) -> None:
    """After commit the relay sends the row the transaction stored and marks it published:
    one UPDATE, no read of the outbox."""
    message = RunStarted(run_id="run-1", request_id="request-1")
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        record(message)
        in_transaction = len(queries.captured_queries)
    after_commit = [query["sql"].upper() for query in queries.captured_queries[in_transaction:]]

    assert broker.sent == sends_for(message.to_envelope())
    assert OutboxMessage.objects.get().published_at is not None
    assert not [sql for sql in after_commit if sql.lstrip().startswith("SELECT")], after_commit
    assert len([sql for sql in after_commit if sql.lstrip().startswith("UPDATE")]) == 1, after_commit

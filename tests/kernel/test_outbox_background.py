"""With ``OUTBOX_RELAY_IN_BACKGROUND`` (the services mode's web processes) a thread of the process relays
what a commit recorded, so the committing thread never waits for the broker; what that
thread could not relay stays unpublished for the sweeper."""

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction
from kombu.exceptions import OperationalError

from apps.intake.services import request_create
from apps.kernel import outbox
from apps.kernel.models import OutboxMessage
from project.celery import app as celery_app
from tasks import relay
from tests.support.factories import request_body

pytestmark = pytest.mark.django_db(transaction=True)

CLIENT_ID = "00000000-0000-4000-8000-00000000c11e"


class Broker:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []  # (message id, sending thread)
        self.down = False

    def send_task(self, name: str, args: Any = None, **options: Any) -> None:
        if self.down:
            raise OperationalError("[Errno 111] Connection refused")
        [envelope] = args
        self.sent.append((envelope["message_id"], threading.current_thread().name))


@pytest.fixture
def broker(monkeypatch: pytest.MonkeyPatch) -> Iterator[Broker]:
    """The relay in background, as project/wsgi.py turns it on in a web server."""
    fake = Broker()
    monkeypatch.setattr(celery_app, "send_task", fake.send_task)
    outbox.relay_in_background(True)
    yield fake
    outbox.relay_in_background(False)


def create_request(short_name: str) -> str:
    return request_create(client_id=CLIENT_ID, data=request_body(tags__project_short_name=short_name)).id


def test_a_committed_message_is_relayed_by_the_background_thread(payer: Any, broker: Broker) -> None:
    request_id = create_request("bg")
    assert outbox.relay_flush(timeout=30)

    message = OutboxMessage.objects.get(aggregate_id=request_id)
    assert message.published_at is not None
    assert broker.sent
    assert {message_id for message_id, _ in broker.sent} == {message.message_id}
    assert {thread for _, thread in broker.sent} == {"outbox-relay"}


def test_many_commits_are_all_relayed_and_marked(payer: Any, broker: Broker) -> None:
    for n in range(5):
        create_request(f"many{n}")
    assert outbox.relay_flush(timeout=30)

    messages = OutboxMessage.objects.filter(type="AccountRequested")
    assert messages.count() == 5
    assert not messages.filter(published_at__isnull=True).exists()
    assert {message_id for message_id, _ in broker.sent} == {m.message_id for m in messages}


def test_what_the_thread_could_not_relay_is_left_for_the_sweeper(payer: Any, broker: Broker) -> None:
    broker.down = True
    request_id = create_request("down")
    assert outbox.relay_flush(timeout=30)

    message = OutboxMessage.objects.get(aggregate_id=request_id)
    assert message.published_at is None
    assert message.publish_attempts == 1

    broker.down = False
    assert relay.sweep(older_than_seconds=0) == 1
    assert OutboxMessage.objects.get(aggregate_id=request_id).published_at is not None


def test_nothing_is_relayed_for_a_transaction_that_rolled_back(payer: Any, broker: Broker) -> None:
    def create_then_fail() -> None:
        with transaction.atomic():
            create_request("undone")
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        create_then_fail()
    assert outbox.relay_flush(timeout=30)

    assert broker.sent == []
    assert not OutboxMessage.objects.exists()


def _wait_until(condition: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_the_thread_marks_what_several_commits_published_in_one_statement(
    payer: Any, broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox, "MARK_LINGER_SECONDS", 60.0)
    writes: list[list[str]] = []
    mark_now = outbox._mark_published_now

    def mark_and_count(ids: Any) -> None:
        writes.append(list(ids))
        mark_now(ids)

    monkeypatch.setattr(outbox, "_mark_published_now", mark_and_count)

    for n in range(3):
        create_request(f"held{n}")
        _wait_until(lambda n=n: len(broker.sent) == n + 1)  # each commit relayed on its own
    messages = OutboxMessage.objects.filter(type="AccountRequested")
    assert messages.filter(published_at__isnull=True).count() == 3  # published, marks held
    assert writes == []

    assert outbox.relay_flush(timeout=30)
    assert [sorted(ids) for ids in writes] == [sorted(m.message_id for m in messages)]
    assert not messages.filter(published_at__isnull=True).exists()


def test_held_marks_are_written_once_their_moment_passes_without_a_flush(
    payer: Any, broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox, "MARK_LINGER_SECONDS", 0.05)
    request_id = create_request("linger")
    _wait_until(lambda: OutboxMessage.objects.get(aggregate_id=request_id).published_at is not None)
    assert outbox.relay_flush(timeout=30)


def test_a_mark_that_fails_leaves_the_message_to_the_sweeper(
    payer: Any, broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    def database_gone(ids: Any) -> None:
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(outbox, "_mark_published_now", database_gone)
    request_id = create_request("unmarked")
    assert outbox.relay_flush(timeout=30)
    assert len(broker.sent) == 1
    assert OutboxMessage.objects.get(aggregate_id=request_id).published_at is None

    monkeypatch.undo()
    monkeypatch.setattr(celery_app, "send_task", broker.send_task)
    assert relay.sweep(older_than_seconds=0) == 1  # sent again: its consumers drop the copy
    assert len(broker.sent) == 2
    assert OutboxMessage.objects.get(aggregate_id=request_id).published_at is not None

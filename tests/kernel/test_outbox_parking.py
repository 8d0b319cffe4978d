"""The sweeper never stalls: a message that cannot be published is skipped, counted and
parked as a dead letter; a broker outage parks nothing; messages nobody listens to are
marked as such."""

from typing import Any

import pytest
from django.db import transaction
from kombu.exceptions import OperationalError

from apps.kernel.contracts import RunStep
from apps.kernel.deadletters import dead_letter_redrive
from apps.kernel.models import DeadLetter, OutboxMessage
from apps.kernel.outbox import record
from apps.workflow.contracts import RunResumed, RunStarted
from project.celery import app as celery_app
from tasks import relay

pytestmark = pytest.mark.django_db


class Broker:
    """Stands in for ``app.send_task``: refuses the messages named in ``poison`` (as SQS
    refuses one that is too large) or every message while it is ``down``."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.poison: set[str] = set()
        self.down = False

    def send_task(self, name: str, args: Any = None, kwargs: Any = None, **options: Any) -> None:
        if self.down:
            raise OperationalError("[Errno 111] Connection refused")
        [envelope] = args
        if envelope["message_id"] in self.poison:
            raise ValueError("message must be shorter than 262144 bytes")
        self.sent.append(envelope["message_id"])


@pytest.fixture
def broker(monkeypatch: pytest.MonkeyPatch) -> Broker:
    fake = Broker()
    monkeypatch.setattr(celery_app, "send_task", fake.send_task)
    return fake


@pytest.fixture(autouse=True)
def three_attempts(settings: Any) -> None:
    settings.OUTBOX_MAX_PUBLISH_ATTEMPTS = 3


def recorded(*messages: RunStarted | RunStep | RunResumed) -> list[str]:
    with transaction.atomic():
        for message in messages:
            record(message)
    return [message.message_id for message in messages]


def started(n: int) -> RunStarted:
    return RunStarted(run_id=f"run-{n}", request_id=f"request-{n}")


def test_a_message_that_fails_to_publish_does_not_hold_up_the_later_ones(broker: Broker) -> None:
    poison, later = recorded(started(1), started(2))
    broker.poison.add(poison)

    assert relay.sweep(older_than_seconds=0) == 1

    assert later in broker.sent
    assert OutboxMessage.objects.get(message_id=later).published_at is not None
    row = OutboxMessage.objects.get(message_id=poison)
    assert row.published_at is None
    assert row.publish_attempts == 1
    assert "ValueError: message must be shorter" in row.last_error
    assert row.parked_at is None


def test_after_its_last_attempt_a_message_is_parked_as_a_dead_letter_with_the_error(broker: Broker) -> None:
    [poison] = recorded(started(1))
    broker.poison.add(poison)

    for _ in range(3):
        relay.sweep(older_than_seconds=0)

    row = OutboxMessage.objects.get(message_id=poison)
    assert row.parked_as == "dead_letter"
    assert row.parked_at is not None
    assert row.publish_attempts == 3
    letter = DeadLetter.objects.get(message_id=poison)
    assert letter.handler == "outbox.publish"
    assert letter.error_code == "ValueError"
    assert "shorter than 262144 bytes" in letter.error
    assert letter.attempts == 3
    assert letter.envelope == row.envelope

    relay.sweep(older_than_seconds=0)  # parked: not tried again
    assert OutboxMessage.objects.get(message_id=poison).publish_attempts == 3
    assert DeadLetter.objects.filter(message_id=poison).count() == 1


def test_a_broker_outage_counts_attempts_but_parks_nothing(broker: Broker) -> None:
    first, second = recorded(started(1), started(2))
    broker.down = True

    for _ in range(5):
        with pytest.raises(OperationalError):
            relay.sweep(older_than_seconds=0)

    assert not OutboxMessage.objects.filter(parked_at__isnull=False).exists()
    assert not DeadLetter.objects.filter(handler="outbox.publish").exists()
    assert OutboxMessage.objects.get(message_id=first).publish_attempts == 5

    broker.down = False
    assert relay.sweep(older_than_seconds=0) == 2
    assert set(broker.sent) == {first, second}


def test_an_event_nobody_listens_to_is_marked_as_such_and_leaves_the_sweepers_window(broker: Broker) -> None:
    [nobody] = recorded(RunResumed(run_id="run-1", request_id="request-1"))

    assert relay.sweep(older_than_seconds=0) == 0

    row = OutboxMessage.objects.get(message_id=nobody)
    assert row.parked_as == "no_subscribers"
    assert row.published_at is None
    assert broker.sent == []
    assert not DeadLetter.objects.exists()  # an event may have no listener yet
    relay.sweep(older_than_seconds=0)
    assert OutboxMessage.objects.get(message_id=nobody).publish_attempts == 0


def test_a_command_no_handler_takes_is_marked_and_becomes_a_dead_letter(broker: Broker) -> None:
    [orphan] = recorded(RunStep(run_id="run-1", step="vpc", context="nowhere"))

    relay.sweep(older_than_seconds=0)

    row = OutboxMessage.objects.get(message_id=orphan)
    assert row.parked_as == "no_subscribers"
    assert "nowhere" in row.last_error
    letter = DeadLetter.objects.get(message_id=orphan)
    assert letter.error_code == "no_subscribers"


def test_redriving_a_parked_message_hands_it_back_to_the_sweeper(broker: Broker) -> None:
    [poison] = recorded(started(1))
    broker.poison.add(poison)
    for _ in range(3):
        relay.sweep(older_than_seconds=0)
    letter = DeadLetter.objects.get(message_id=poison)

    broker.poison.clear()
    summary = dead_letter_redrive(dead_letter_id=letter.id, by="operator")

    assert summary.state == "redriven"
    row = OutboxMessage.objects.get(message_id=poison)
    assert row.parked_at is None
    assert row.publish_attempts == 0
    assert relay.sweep(older_than_seconds=0) >= 1
    assert poison in broker.sent

"""Relaying the outbox to the broker: one Celery message per subscriber of each message.

``publish`` runs after commit (the fast path) for the messages that transaction
recorded; ``sweep`` runs periodically (Celery beat, a Zappa event, or the embedded
runner's timer) and relays whatever the fast path missed — a broker outage, a process
killed between commit and publish. Publishing twice is harmless: consumers dedupe by
message id.

A message that fails to publish on its own (too large for the queue, say) is skipped, its
failures counted; after ``OUTBOX_MAX_PUBLISH_ATTEMPTS`` it is parked as a dead letter (an
operator's redrive hands it back to the sweeper). A broker that cannot be reached stops
the relay instead — every later message would fail the same way — and parks nothing.
A message nobody listens to is parked as ``no_subscribers``; a command without its
handler is a dead letter too (commands fail loudly).
"""

import builtins
from typing import Any

import kombu.exceptions
import structlog
from django.conf import settings
from django.db import transaction

from apps.kernel import metrics, outbox, tracing
from apps.kernel.deadletters import dead_letter_record
from apps.kernel.models import OutboxMessage
from project.celery import app
from tasks.subscriptions import NoSubscriber, subscribers_for

log = structlog.get_logger(__name__)

# The broker itself is away: no message can be published now.
BROKER_DOWN = (kombu.exceptions.OperationalError, builtins.ConnectionError, builtins.TimeoutError)
# What an operator's redrive of a message the relay gave up on is addressed to.
RELAY_HANDLER = "outbox.publish"


def send_envelope(handler: str, envelope: dict[str, Any], *, queue: str) -> None:
    """One Celery message carrying ``envelope`` to ``handler``. What worker logs and
    monitors show of its arguments (``argsrepr``) names the message — its type and id —
    instead of Celery's bounded repr of the whole envelope, which would cost about 0.2 ms
    a message to build and say less."""
    argsrepr = f"[<{envelope.get('type', '?')} {envelope.get('message_id', '?')}>]"
    app.send_task(handler, args=[envelope], queue=queue, argsrepr=argsrepr, kwargsrepr="{}")


def _park_as_dead_letter(message: OutboxMessage, *, code: str, error: str, attempts: int) -> None:
    with transaction.atomic():
        if not outbox.park(message.message_id, reason=outbox.DEAD_LETTER, error=error):
            return
        dead_letter_record(
            handler=RELAY_HANDLER,
            envelope=message.envelope,
            error_code=code,
            error=error,
            attempts=attempts,
        )
    log.error("outbox.dead_lettered", message_id=message.message_id, error=error, attempts=attempts)


def _send(message: OutboxMessage) -> bool:
    """Publish one message to its subscribers; False if nobody listens to it."""
    try:
        subscribers = subscribers_for(message.envelope)
    except NoSubscriber as error:
        log.error("outbox.no_subscriber", message_id=message.message_id, error=str(error))
        with transaction.atomic():
            outbox.park(message.message_id, reason=outbox.NO_SUBSCRIBERS, error=str(error))
            dead_letter_record(
                handler=RELAY_HANDLER,
                envelope=message.envelope,
                error_code=outbox.NO_SUBSCRIBERS,
                error=str(error),
                attempts=1,
            )
        return False
    if not subscribers:
        outbox.park(message.message_id, reason=outbox.NO_SUBSCRIBERS)
        return False
    with tracing.span(
        f"publish {message.type}",
        parent=message.envelope.get("trace"),
        kind="producer",
        attributes=lambda: {"messaging.operation.type": "send", "messaging.message.id": message.message_id},
    ):
        for subscriber in subscribers:
            send_envelope(subscriber.name, message.envelope, queue=subscriber.queue)
    metrics.inc("bespoke_outbox_published", type=message.type)
    return True


def publish(message_ids: list[str]) -> int:
    """Relay these outbox messages (those not yet published nor parked), oldest first, and
    mark those sent as published together at the end (also when the broker fails midway).

    Returns how many were sent; raises what the broker raised when it is unreachable."""
    return publish_stored(outbox.unpublished(message_ids))


def publish_stored(messages: list[OutboxMessage]) -> int:
    """``publish`` for rows in hand: read from the table, or just stored by a transaction
    that committed (the outbox's fast path, which does not read them back)."""
    sent: list[str] = []
    try:
        _publish_each(messages, sent)
    finally:
        outbox.mark_published(*sent)
    return len(sent)


def _publish_each(messages: list[OutboxMessage], sent: list[str]) -> None:
    for message in messages:
        try:
            if _send(message):
                sent.append(message.message_id)
        except BROKER_DOWN as error:
            outbox.mark_failed(message.message_id, f"{type(error).__name__}: {error}")
            raise
        except Exception as error:
            text = f"{type(error).__name__}: {error}"
            attempts = outbox.mark_failed(message.message_id, text)
            log.warning("outbox.publish_failed", message_id=message.message_id, error=text, attempts=attempts)
            if attempts >= settings.OUTBOX_MAX_PUBLISH_ATTEMPTS:
                _park_as_dead_letter(message, code=type(error).__name__, error=text, attempts=attempts)


def sweep(*, older_than_seconds: float | None = None) -> int:
    """Relay every message the fast path left behind. Returns how many were sent."""
    age = settings.OUTBOX_SWEEP_AFTER_SECONDS if older_than_seconds is None else older_than_seconds
    pending = outbox.pending_ids(older_than_seconds=age)
    if not pending:
        return 0
    sent = publish(pending)
    log.info("outbox.swept", sent=sent)
    return sent

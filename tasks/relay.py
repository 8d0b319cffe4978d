"""Relaying the outbox to the broker: one Celery message per subscriber of each message.

``publish`` runs after commit (the fast path) for the messages that transaction
recorded; ``sweep`` runs periodically (Celery beat, a Zappa event, or the embedded
runner's timer) and relays whatever the fast path missed — a broker outage, a process
killed between commit and publish. Publishing twice is harmless: consumers dedupe by
message id.
"""

import structlog
from django.conf import settings

from apps.kernel import metrics, outbox
from apps.kernel.models import OutboxMessage
from project.celery import app
from tasks.subscriptions import NoSubscriber, subscribers_for

log = structlog.get_logger(__name__)


def _send(message: OutboxMessage) -> None:
    try:
        subscribers = subscribers_for(message.envelope)
    except NoSubscriber as error:
        log.error("outbox.no_subscriber", message_id=message.message_id, error=str(error))
        outbox.mark_failed(message.message_id, str(error))
        return
    for subscriber in subscribers:
        app.send_task(subscriber.name, args=[message.envelope], queue=subscriber.queue)
    outbox.mark_published(message.message_id)
    metrics.inc("bespoke_outbox_published", type=message.type)


def publish(message_ids: list[str]) -> int:
    """Relay these outbox messages (those not yet published), oldest first."""
    sent = 0
    for message in outbox.unpublished(message_ids):
        try:
            _send(message)
        except Exception as error:
            outbox.mark_failed(message.message_id, f"{type(error).__name__}: {error}")
            raise
        sent += 1
    return sent


def sweep(*, older_than_seconds: float | None = None) -> int:
    """Relay every message the fast path left behind. Returns how many were sent."""
    age = settings.OUTBOX_SWEEP_AFTER_SECONDS if older_than_seconds is None else older_than_seconds
    pending = outbox.pending_ids(older_than_seconds=age)
    if not pending:
        return 0
    sent = publish(pending)
    log.info("outbox.swept", sent=sent)
    return sent

"""The transactional outbox.

``record(message)`` stores a message in the caller's transaction. After commit the
installed publisher (the ``tasks`` layer, which the kernel never imports) relays it;
if that fails or the process dies first, the sweeper relays it later. Nothing recorded
is lost, and nothing is published for a transaction that rolled back.
"""

import time
from collections.abc import Callable, Iterable
from datetime import timedelta

import structlog
from django.db import connection, transaction
from django.db.models import F

from apps.kernel import clock, tracing
from apps.kernel.contracts import Message
from apps.kernel.logging import current_request_id
from apps.kernel.models import OutboxMessage

log = structlog.get_logger(__name__)

Publisher = Callable[[list[str]], object]
_publisher: Publisher | None = None


def set_publisher(publisher: Publisher | None) -> None:
    """Install the function that relays outbox messages by id after commit."""
    global _publisher
    _publisher = publisher


def record(message: Message) -> None:
    """Store ``message`` in the current transaction; it is relayed once that commits."""
    if not connection.in_atomic_block:
        raise RuntimeError("record() must be called inside transaction.atomic().")
    envelope = message.to_envelope(correlation_id=current_request_id())
    trace = tracing.carrier()
    if trace is not None:
        envelope["trace"] = trace  # the recording span: its consumers continue the trace
    OutboxMessage.objects.create(
        message_id=message.message_id,
        sequence=time.time_ns(),
        type=message.type_name(),
        aggregate_id=message.aggregate_id(),
        envelope=envelope,
        recorded_at=clock.now(),
    )
    transaction.on_commit(lambda: _relay_after_commit(message.message_id), robust=True)


def _relay_after_commit(message_id: str) -> None:
    if _publisher is None:
        return
    try:
        _publisher([message_id])
    except Exception:  # the sweeper relays it later; the caller's work is already committed
        log.warning("outbox.relay_deferred", message_id=message_id, exc_info=True)


NO_SUBSCRIBERS = "no_subscribers"
DEAD_LETTER = "dead_letter"


def pending_ids(*, older_than_seconds: float = 0, limit: int = 500) -> list[str]:
    """Unpublished messages the sweeper still tries, oldest first (parked ones are not)."""
    queryset = OutboxMessage.objects.filter(published_at__isnull=True, parked_at__isnull=True)
    if older_than_seconds:
        queryset = queryset.filter(recorded_at__lte=clock.now() - timedelta(seconds=older_than_seconds))
    return list(queryset.order_by("sequence").values_list("message_id", flat=True)[:limit])


def unpublished(message_ids: Iterable[str]) -> list[OutboxMessage]:
    return list(
        OutboxMessage.objects.filter(
            message_id__in=list(message_ids), published_at__isnull=True, parked_at__isnull=True
        ).order_by("sequence")
    )


def mark_published(message_id: str) -> None:
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # Losing this mark in a crash only means the sweeper publishes the message
            # again, which consumers ignore; so it needn't wait for the disk (it halves
            # the after-commit cost of a request).
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        OutboxMessage.objects.filter(message_id=message_id, published_at__isnull=True).update(published_at=clock.now())


def mark_failed(message_id: str, error: str) -> int:
    """Count a failed publish; returns how many attempts have failed so far."""
    OutboxMessage.objects.filter(message_id=message_id).update(
        publish_attempts=F("publish_attempts") + 1, last_error=error[:2000]
    )
    return OutboxMessage.objects.filter(message_id=message_id).values_list("publish_attempts", flat=True).first() or 0


def park(message_id: str, *, reason: str, error: str = "") -> bool:
    """Stop relaying an unpublished message (``NO_SUBSCRIBERS`` or ``DEAD_LETTER``);
    False if it was published or parked meanwhile."""
    changes: dict[str, object] = {"parked_at": clock.now(), "parked_as": reason}
    if error:
        changes["last_error"] = error[:2000]
    return bool(
        OutboxMessage.objects.filter(message_id=message_id, published_at__isnull=True, parked_at__isnull=True).update(
            **changes
        )
    )


def unpark(message_id: str) -> bool:
    """Hand a parked message back to the sweeper, its attempts counted from zero again."""
    return bool(
        OutboxMessage.objects.filter(message_id=message_id, published_at__isnull=True, parked_at__isnull=False).update(
            parked_at=None, parked_as="", publish_attempts=0
        )
    )

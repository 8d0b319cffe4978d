"""The inbox: at-least-once delivery, exactly-once effect.

A handler claims ``(handler, message_id)`` in the same transaction as its effect; a
second delivery of the same message finds the claim and does nothing.
"""

from django.db import IntegrityError, transaction

from apps.kernel import clock, metrics
from apps.kernel.models import ProcessedMessage


def claim(handler: str, message_id: str) -> bool:
    """Mark the message processed by ``handler``; False if it already was.

    Call inside the transaction that applies the handler's effect, so a rollback
    releases the claim too.
    """
    try:
        with transaction.atomic():
            ProcessedMessage.objects.create(handler=handler, message_id=message_id, processed_at=clock.now())
    except IntegrityError:
        metrics.inc("bespoke_inbox_duplicates", handler=handler)
        return False
    return True


def already_processed(handler: str, message_id: str) -> bool:
    done = ProcessedMessage.objects.filter(handler=handler, message_id=message_id).exists()
    if done:
        metrics.inc("bespoke_inbox_duplicates", handler=handler)
    return done

"""The inbox: at-least-once delivery, exactly-once effect.

A handler claims ``(handler, message_id)`` in the same transaction as its effect; a
second delivery of the same message finds the claim and does nothing.
"""

from collections.abc import Iterable

from django.db import IntegrityError, transaction

from apps.kernel import clock, metrics
from apps.kernel.models import ProcessedMessage


def claim(handler: str, message_id: str, *, first_write: bool = False) -> bool:
    """Mark the message processed by ``handler``; False if it already was.

    Call inside the transaction that applies the handler's effect, so a rollback
    releases the claim too. ``first_write``: the claim is the transaction's first write
    and its caller writes nothing more after a False — so the claim needs no savepoint
    of its own (two statements less for every message handled): a duplicate marks the
    transaction for rollback, which undoes nothing, as the caller leaves it.
    """
    try:
        with transaction.atomic(savepoint=not first_write):
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


def processed(keys: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of the ``(handler, message_id)`` pairs are already processed, in one query."""
    wanted = set(keys)
    if not wanted:
        return set()
    rows = ProcessedMessage.objects.filter(
        handler__in={handler for handler, _ in wanted}, message_id__in={message_id for _, message_id in wanted}
    ).values_list("handler", "message_id")
    done = {(handler, message_id) for handler, message_id in rows if (handler, message_id) in wanted}
    for handler, _ in done:
        metrics.inc("bespoke_inbox_duplicates", handler=handler)
    return done


def mark_processed(keys: Iterable[tuple[str, str]]) -> None:
    """Mark the ``(handler, message_id)`` pairs processed in one statement (``INSERT … ON
    CONFLICT DO NOTHING``): a pair already there stays as it was."""
    now = clock.now()
    rows = [ProcessedMessage(handler=handler, message_id=message_id, processed_at=now) for handler, message_id in keys]
    if rows:
        ProcessedMessage.objects.bulk_create(rows, ignore_conflicts=True)

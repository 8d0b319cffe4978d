"""Dead letters: messages whose handler gave up, parked for an operator.

A dead letter is recorded with ``DeadLetterCreated`` (operators are notified through it)
in one transaction. Redriving hands the message to its handler again through the
installed redriver (the messaging layer, which the kernel never imports); discarding
closes it with a reason. Both are recorded with who did it and when.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction

from apps.kernel import clock, ids, metrics
from apps.kernel.contracts import DeadLetterCreated
from apps.kernel.errors import ApplicationError, Conflict, NotFound
from apps.kernel.models import DeadLetter
from apps.kernel.outbox import record

Redriver = Callable[[str, dict[str, Any]], str]
_redriver: Redriver | None = None


def set_redriver(redriver: Redriver | None) -> None:
    """Install ``redriver(handler, envelope) -> what it did``; it raises ApplicationError
    when the message can't be redriven now."""
    global _redriver
    _redriver = redriver


@dataclass(frozen=True)
class DeadLetterSummary:
    id: str
    message_id: str
    message_type: str
    handler: str
    envelope: dict[str, Any]
    error_code: str
    error: str
    attempts: int
    history: list[dict[str, Any]]
    state: str
    resolution: str
    resolved_by: str
    created_at: datetime
    resolved_at: datetime | None


def _summary(letter: DeadLetter) -> DeadLetterSummary:
    return DeadLetterSummary(
        id=letter.id,
        message_id=letter.message_id,
        message_type=letter.message_type,
        handler=letter.handler,
        envelope=letter.envelope,
        error_code=letter.error_code,
        error=letter.error,
        attempts=letter.attempts,
        history=list(letter.history),
        state=letter.state,
        resolution=letter.resolution,
        resolved_by=letter.resolved_by,
        created_at=letter.created_at,
        resolved_at=letter.resolved_at,
    )


def failure_entry(*, attempt: int, error_code: str, error: str) -> dict[str, Any]:
    """One entry of a dead letter's history: an attempt that failed, when and why."""
    return {"attempt": attempt, "at": clock.now().isoformat(), "error_code": error_code, "error": error[:2000]}


def sqs_record_envelope(*, message_id: str, queue: str, body: str, attributes: Any) -> dict[str, Any]:
    """What a dead letter keeps of an SQS message nobody could hand to a handler (a Lambda
    event's record or one received from a dead-letter queue): enough to read it, or send
    it again."""
    return {
        "type": "SqsRecord",
        "message_id": message_id[:36],
        "queue": queue,
        "body": body,
        "attributes": dict(attributes or {}),
    }


@transaction.atomic
def dead_letter_record(
    *,
    handler: str,
    envelope: dict[str, Any],
    error_code: str,
    error: str,
    attempts: int,
    history: list[dict[str, Any]] | None = None,
) -> DeadLetterSummary:
    """Park ``envelope`` for an operator. ``history``: each failed attempt
    (``failure_entry``); by default the one that gave up."""
    if history is None:
        history = [failure_entry(attempt=attempts, error_code=error_code, error=error)]
    letter = DeadLetter.objects.create(
        id=ids.new_id(),
        message_id=str(envelope.get("message_id", ""))[:36],
        message_type=str(envelope.get("type", "?"))[:100],
        handler=handler,
        envelope=envelope,
        error_code=error_code[:100],
        error=error,
        attempts=attempts,
        history=history,
        created_at=clock.now(),
    )
    metrics.inc_on_commit("bespoke_dead_letters", handler=handler)
    if letter.message_type == DeadLetterCreated.type_name():
        # The operators' alert itself gave up: announcing that would fail the same way, for ever.
        return _summary(letter)
    record(
        DeadLetterCreated(
            dead_letter_id=letter.id,
            handler=handler,
            message_type=letter.message_type,
            error_code=letter.error_code,
            error=error[:2000],
            attempts=attempts,
        )
    )
    return _summary(letter)


def dead_letter_list(
    *, state: str | None = None, limit: int = 100, offset: int = 0
) -> tuple[int, list[DeadLetterSummary]]:
    queryset = DeadLetter.objects.all()
    if state:
        queryset = queryset.filter(state=state)
    return queryset.count(), [_summary(letter) for letter in queryset[offset : offset + limit]]


def dead_letter_get(*, dead_letter_id: str) -> DeadLetterSummary:
    letter = DeadLetter.objects.filter(id=dead_letter_id).first()
    if letter is None:
        raise NotFound(f"No dead letter {dead_letter_id}.")
    return _summary(letter)


def _open_letter(dead_letter_id: str) -> DeadLetter:
    letter = DeadLetter.objects.select_for_update().filter(id=dead_letter_id).first()
    if letter is None:
        raise NotFound(f"No dead letter {dead_letter_id}.")
    if letter.state != DeadLetter.State.OPEN:
        raise Conflict(f"Dead letter {dead_letter_id} is already {letter.state}.", extra={"state": letter.state})
    return letter


@transaction.atomic
def dead_letter_redrive(*, dead_letter_id: str, by: str) -> DeadLetterSummary:
    """Hand the message to its handler again (for a failed step: retry its run from the
    failed steps). Only open letters; the letter is marked redriven with what was done."""
    if _redriver is None:
        raise ApplicationError("Redriving is not available in this process.", code="redrive_unavailable")
    letter = _open_letter(dead_letter_id)
    letter.resolution = _redriver(letter.handler, letter.envelope)
    letter.state = DeadLetter.State.REDRIVEN
    letter.resolved_by = by
    letter.resolved_at = clock.now()
    letter.save(update_fields=["resolution", "state", "resolved_by", "resolved_at"])
    return _summary(letter)


@transaction.atomic
def dead_letter_discard(*, dead_letter_id: str, reason: str, by: str) -> DeadLetterSummary:
    if not reason.strip():
        raise ApplicationError("Say why the message is discarded.", code="reason_required")
    letter = _open_letter(dead_letter_id)
    letter.state = DeadLetter.State.DISCARDED
    letter.resolution = reason.strip()
    letter.resolved_by = by
    letter.resolved_at = clock.now()
    letter.save(update_fields=["resolution", "state", "resolved_by", "resolved_at"])
    return _summary(letter)

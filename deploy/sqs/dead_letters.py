"""Records nobody can read are kept in Bespoke's dead letters (handler ``sqs:<queue>``):
operators see them with the rest, and discard or redrive them."""

from collections.abc import Mapping
from typing import Any

import structlog

from apps.kernel.deadletters import dead_letter_record, sqs_record_envelope

log = structlog.get_logger(__name__)


def sqs_dead_letter_envelope(record: Mapping[str, Any], *, queue: str) -> dict[str, Any]:
    """What a dead letter keeps of a Lambda event's SQS record."""
    return sqs_record_envelope(
        message_id=str(record.get("messageId", "")),
        queue=queue,
        body=str(record.get("body", "")),
        attributes=record.get("attributes"),
    )


def park_undecodable(record: Mapping[str, Any], *, queue: str, error: str) -> bool:
    """Keep a record nobody can read as a dead letter; False if that failed (SQS then
    keeps it, and in the end its DLQ)."""
    try:
        dead_letter_record(
            handler=f"sqs:{queue}",
            envelope=sqs_dead_letter_envelope(record, queue=queue),
            error_code="undecodable",
            error=error,
            attempts=1,
        )
    except Exception:
        log.exception("sqs.dead_letter_failed", record_id=record.get("messageId"))
        return False
    return True

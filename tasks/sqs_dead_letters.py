"""Importing SQS dead-letter queues into Bespoke's dead letters (serverless mode).

On Lambda, a record that kept failing outside the handlers (the function timed out, or
crashed, ``maxReceiveCount`` times) is moved by SQS to its queue's dead-letter queue. This
periodic job empties every such queue into the ``DeadLetter`` table, so operators see and
redrive them with the rest (admin, API, ``manage.py dead_letters``): a Celery message for
one of Bespoke's tasks is kept as that task's message (redriving sends it to the task
again); anything else is kept as the raw SQS record (handler ``sqs:<queue>``). A message is
deleted from the DLQ only after its dead letter is committed; one imported twice (the job
died in between) is recognised by its message id and not recorded again.
"""

import base64
import binascii
import json
from typing import Any

import botocore.exceptions
import structlog
from django.conf import settings

from apps.cloud import api as cloud
from apps.kernel.deadletters import dead_letter_record, sqs_record_envelope
from apps.kernel.models import DeadLetter
from tasks.subscriptions import all_queues, all_subscribers

log = structlog.get_logger(__name__)

ERROR_CODE = "sqs_receive_limit"


def dead_letter_queue_name(queue: str) -> str:
    """Celery queue ``q.network`` → SQS DLQ ``<SQS_QUEUE_PREFIX>q-network-dlq``."""
    return f"{getattr(settings, 'SQS_QUEUE_PREFIX', 'bespoke-')}{queue.replace('.', '-')}-dlq"


def _celery_message(body: str) -> tuple[str, list[Any]] | None:
    """(task name, args) of a kombu SQS body, or None if it is not one."""
    try:
        envelope = json.loads(base64.b64decode(body, validate=True))
        args = json.loads(base64.b64decode(envelope["body"]))[0]
        task = envelope["headers"]["task"]
    except (binascii.Error, ValueError, KeyError, TypeError, IndexError):
        return None
    if not isinstance(task, str) or not isinstance(args, list):
        return None
    return task, args


def _letter(message: dict[str, Any], *, queue_name: str) -> tuple[str, dict[str, Any]]:
    body = str(message.get("Body", ""))
    decoded = _celery_message(body)
    handlers = {subscriber.name for subscriber in all_subscribers()}
    if decoded is not None and decoded[0] in handlers and decoded[1] and isinstance(decoded[1][0], dict):
        return decoded[0], decoded[1][0]
    return f"sqs:{queue_name}", sqs_record_envelope(
        message_id=str(message.get("MessageId", "")),
        queue=queue_name,
        body=body,
        attributes=message.get("Attributes"),
    )


def import_dead_letter_queues(*, client: Any = None, limit: int = 100) -> int:
    """Move up to ``limit`` messages from the SQS dead-letter queues into ``DeadLetter``.
    Does nothing unless SQS is the broker. Returns how many were imported."""
    if client is None and not str(settings.CELERY_BROKER_URL).startswith("sqs"):
        return 0
    sqs = client or cloud.client("sqs", region=getattr(settings, "AWS_REGION", settings.AWS_DEFAULT_REGION))
    imported = 0
    for queue in all_queues():
        name = dead_letter_queue_name(queue)
        try:
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        except botocore.exceptions.ClientError:
            continue
        while imported < limit:
            messages = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=min(10, limit - imported), AttributeNames=["All"], WaitTimeSeconds=0
            ).get("Messages", [])
            if not messages:
                break
            for message in messages:
                _import(message, queue_name=name)
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                imported += 1
    if imported:
        log.warning("sqs.dead_letters_imported", imported=imported)
    return imported


def _import(message: dict[str, Any], *, queue_name: str) -> None:
    handler, envelope = _letter(message, queue_name=queue_name)
    message_id = str(envelope.get("message_id", ""))[:36]
    if DeadLetter.objects.filter(handler=handler, message_id=message_id, error_code=ERROR_CODE).exists():
        return
    receives = int(dict(message.get("Attributes") or {}).get("ApproximateReceiveCount", 0) or 0)
    error = f"Received {receives} times from {queue_name.removesuffix('-dlq')} without being handled; SQS moved it."
    dead_letter_record(
        handler=handler,
        envelope=envelope,
        error_code=ERROR_CODE,
        error=error,
        attempts=receives,
    )

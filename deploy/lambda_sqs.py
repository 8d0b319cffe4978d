"""Celery on Lambda: run an SQS batch of Celery messages as a Celery worker would.

The SQS event source mapping hands the function up to ``BatchSize`` records of one
queue. Each record is a message kombu's SQS transport published (``.delay()``, the outbox
relay, a task's own ``retry()``). For each one this module:

1. decodes it exactly as kombu does (base64 SQS body → JSON envelope → protocol-2
   headers + ``[args, kwargs, embed]`` body, JSON only);
2. skips it if the delivery inbox says this task id and attempt already ran to an end (SQS
   delivers at least once; the handlers' own inbox makes the *effect* once, this saves
   the work);
3. if its ``eta`` is still in the future (a ``retry(countdown=…)`` or an ``eta`` that SQS
   could not delay, or delayed less than asked), publishes the same body again with
   ``DelaySeconds`` (at most 900, SQS's limit; a longer wait makes several hops);
4. otherwise runs it through Celery's worker tracer (``celery.app.trace.trace_task`` —
   the code path of ``celery worker``, not eager ``apply``): signals, retries published
   to the broker, chains and callbacks, ``Reject``/``Ignore`` all behave as in a worker;
5. reports the records that must come again in ``batchItemFailures`` — tasks that
   failed, and those not reached before the function's time ran out — so
   SQS redelivers only those and, after ``maxReceiveCount``, moves them to the queue's DLQ.
   A record that cannot be decoded is kept in Bespoke's dead letters at once (handler
   ``sqs:<queue>``) and deleted from the queue; only if that write fails does it come again.

``acks_late`` semantics carry over: a record is deleted only when its outcome is settled
(success, retry published, ignored, expired, deferred).
"""

import base64
import binascii
import json
import math
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

import structlog
from celery import Celery, signals
from celery.app.trace import trace_task
from celery.exceptions import Reject
from celery.states import IGNORED, RETRY
from django.conf import settings
from django.db import close_old_connections, transaction
from kombu.exceptions import ContentDisallowed, DecodeError
from kombu.serialization import loads

from apps.cloud import budget as cloud_budget
from apps.kernel import inbox
from apps.kernel.deadletters import dead_letter_record

log = structlog.get_logger(__name__)

# SQS's longest per-message delay.
MAX_DELAY_SECONDS = 900
# An eta at most this far ahead runs now: SQS delays are whole seconds and clocks drift.
ETA_TOLERANCE_SECONDS = 1.0
# Kept back of the invocation for answering: a record is started only with its budget
# left beyond this; what was not started is reported as failed and comes back after the
# visibility timeout, instead of the whole batch coming back because the function timed
# out mid-record.
TIME_RESERVE_MS = 2_000


def record_budget_ms() -> int:
    """A record is started only with this much of the invocation left (beyond the reserve):
    ``LAMBDA_RECORD_BUDGET_SECONDS``, at least one AWS attempt (connect + read timeouts),
    so every step can make at least one AWS call whole. Otherwise it is returned as a batch
    item failure and comes back in another invocation."""
    seconds = max(float(getattr(settings, "LAMBDA_RECORD_BUDGET_SECONDS", 0)), cloud_budget.attempt_seconds())
    return int(seconds * 1000)


# The delivery inbox's ``message_id`` column holds a Celery task id (a UUID).
_MAX_TASK_ID = 36


class LambdaContext(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


class Undecodable(Exception):
    """A record that is not a Celery message this function can run."""


class Outcome(StrEnum):
    SUCCEEDED = "succeeded"
    RETRY_PUBLISHED = "retry_published"
    IGNORED = "ignored"
    EXPIRED = "expired"
    DEFERRED = "deferred"  # eta in the future: published again with a delay
    DUPLICATE = "duplicate"  # this task id and attempt already ran to an end
    FAILED = "failed"
    DEAD_LETTERED = "dead_lettered"  # undecodable: kept in Bespoke's dead letters, not retried
    UNDECODABLE = "undecodable"  # undecodable, and the dead letter could not be written
    FOREIGN = "foreign_queue"  # from a queue this function does not consume
    NOT_STARTED = "not_started"  # the invocation's time ran out first

    @property
    def settled(self) -> bool:
        return self not in _UNSETTLED


_UNSETTLED = {Outcome.FAILED, Outcome.UNDECODABLE, Outcome.FOREIGN, Outcome.NOT_STARTED}


@dataclass(frozen=True)
class CeleryMessage:
    """One SQS record, decoded."""

    record_id: str
    queue_arn: str
    body: str  # the SQS body as received, for publishing it again unchanged
    task_name: str
    task_id: str
    retries: int
    eta: datetime | None
    expires: datetime | None
    headers: dict[str, Any]
    properties: dict[str, Any]
    args: list[Any]
    kwargs: dict[str, Any]
    embed: dict[str, Any]
    receive_count: int = 1

    @property
    def queue_name(self) -> str:
        return queue_name_of(self.queue_arn)


@dataclass
class BatchReport:
    outcomes: dict[str, Outcome] = field(default_factory=dict)

    def response(self) -> dict[str, list[dict[str, str]]]:
        """The partial batch response Lambda expects (``ReportBatchItemFailures``)."""
        return {
            "batchItemFailures": [
                {"itemIdentifier": record_id} for record_id, outcome in self.outcomes.items() if not outcome.settled
            ]
        }


def queue_name_of(arn: str) -> str:
    """``arn:aws:sqs:region:account:name`` → ``name``."""
    return arn.rsplit(":", 1)[-1]


def is_sqs_batch(event: Any) -> bool:
    records = event.get("Records") if isinstance(event, dict) else None
    return (
        isinstance(records, list)
        and bool(records)
        and all(isinstance(r, dict) and r.get("eventSource") == "aws:sqs" for r in records)
    )


# --- Decoding ------------------------------------------------------------------------------


def _json_object(raw: bytes | str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise Undecodable(f"{what} is not JSON: {error}") from None
    if not isinstance(value, dict):
        raise Undecodable(f"{what} is not a JSON object.")
    return value


def _sqs_envelope(body: str) -> dict[str, Any]:
    """kombu writes the envelope as base64 (``sqs_base64_encoding``, the default) or as
    plain JSON; read both, as kombu's own consumer does."""
    text = body.strip()
    if text.startswith("{"):
        return _json_object(text, "The SQS body")
    try:
        decoded = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise Undecodable("The SQS body is neither JSON nor base64.") from None
    return _json_object(decoded, "The base64-decoded SQS body")


def _instant(value: Any, name: str) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise Undecodable(f"Header {name} is not an ISO 8601 time: {value!r}.") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def decode_record(record: Mapping[str, Any], *, accept: Iterable[str] = ("application/json",)) -> CeleryMessage:
    """A Celery protocol-2 message from an SQS record; ``Undecodable`` if it is not one."""
    raw_body = record.get("body")
    if not isinstance(raw_body, str):
        raise Undecodable("The record has no body.")
    envelope = _sqs_envelope(raw_body)
    headers = envelope.get("headers")
    properties = envelope.get("properties") or {}
    if not isinstance(headers, dict) or not isinstance(properties, dict):
        raise Undecodable("The envelope has no headers: not a Celery protocol-2 message.")
    task_name, task_id = headers.get("task"), headers.get("id")
    if not isinstance(task_name, str) or not isinstance(task_id, str) or not task_name or not task_id:
        raise Undecodable("The message headers name no task and id.")
    payload = envelope.get("body", "")
    try:
        body = base64.b64decode(payload) if properties.get("body_encoding") == "base64" else str(payload).encode()
    except (binascii.Error, ValueError):
        raise Undecodable("The message body is not valid base64.") from None
    try:
        decoded = loads(
            body,
            str(envelope.get("content-type") or ""),
            str(envelope.get("content-encoding") or "utf-8"),
            accept=set(accept),
        )
    except (ContentDisallowed, DecodeError) as error:
        raise Undecodable(f"The message body cannot be read: {error}") from None
    if not (isinstance(decoded, list | tuple) and len(decoded) == 3):
        raise Undecodable("The message body is not [args, kwargs, embed].")
    args, kwargs, embed = decoded
    if not isinstance(args, list | tuple) or not isinstance(kwargs, dict) or not isinstance(embed, dict | None):
        raise Undecodable("The message body is not [args, kwargs, embed].")
    attributes = record.get("attributes") or {}
    try:
        receive_count = int(attributes.get("ApproximateReceiveCount", 1))
        retries = int(headers.get("retries") or 0)
    except (TypeError, ValueError):
        raise Undecodable("A count in the record is not a number.") from None
    return CeleryMessage(
        record_id=str(record.get("messageId", "")),
        queue_arn=str(record.get("eventSourceARN", "")),
        body=raw_body,
        task_name=task_name,
        task_id=task_id,
        retries=retries,
        eta=_instant(headers.get("eta"), "eta"),
        expires=_instant(headers.get("expires"), "expires"),
        headers=headers,
        properties=properties,
        args=list(args),
        kwargs=kwargs,
        embed=embed or {},
        receive_count=receive_count,
    )


# --- Running -------------------------------------------------------------------------------


def _delivery_handler(message: CeleryMessage) -> str:
    return f"sqs:{message.task_name}#{message.retries}"[:100]


def _already_ran(message: CeleryMessage) -> bool:
    return len(message.task_id) <= _MAX_TASK_ID and inbox.already_processed(_delivery_handler(message), message.task_id)


def _remember(message: CeleryMessage) -> None:
    if len(message.task_id) <= _MAX_TASK_ID:
        with transaction.atomic():
            inbox.claim(_delivery_handler(message), message.task_id)


def trace(app: Celery, message: CeleryMessage, *, hostname: str) -> Outcome:
    """Run one message through Celery's worker tracer; its outcome."""
    task = app.tasks.get(message.task_name)
    if task is None:
        log.error("sqs.unknown_task", task=message.task_name, task_id=message.task_id)
        return Outcome.FAILED
    delivery_info = message.properties.get("delivery_info") or {}
    # The request a worker builds (celery.worker.request.Request): the headers, the
    # message's properties and delivery info (a retry goes back to the same queue), and the
    # body's embedded callbacks, errbacks, chain and chord.
    request: dict[str, Any] = {
        **message.headers,
        "properties": message.properties,
        "reply_to": message.properties.get("reply_to"),
        "correlation_id": message.properties.get("correlation_id"),
        "hostname": hostname,
        "delivery_info": {
            "exchange": delivery_info.get("exchange"),
            "routing_key": delivery_info.get("routing_key"),
            "priority": message.properties.get("priority"),
            "redelivered": message.receive_count > 1,
        },
        "args": message.args,
        "kwargs": message.kwargs,
        "is_eager": False,
        "loglevel": None,
        "logfile": None,
        **message.embed,
    }
    try:
        _, info, _, _ = trace_task(
            task, message.task_id, tuple(message.args), message.kwargs, request, hostname=hostname, app=app
        )
    except Reject as rejected:
        # A worker would reject the message; on SQS with a redrive policy that means it comes
        # back until maxReceiveCount and then goes to the dead-letter queue.
        log.warning("sqs.task_rejected", task=message.task_name, task_id=message.task_id, reason=str(rejected))
        return Outcome.FAILED
    if info is None:
        return Outcome.SUCCEEDED
    if info.state == RETRY:
        return Outcome.RETRY_PUBLISHED
    if info.state == IGNORED:
        return Outcome.IGNORED
    return Outcome.FAILED


_ATTRIBUTE_KEYS = {"dataType": "DataType", "stringValue": "StringValue", "binaryValue": "BinaryValue"}


class Republisher:
    """Publishes a record's body again, delayed, to the queue it came from."""

    def __init__(self, client_factory: Callable[[str], Any], *, transport_options: Mapping[str, Any]) -> None:
        self._client_factory = client_factory
        # The queue URLs and region kombu publishes with (predefined_queues), so that a
        # deferred message goes where a fresh one would, without a lookup.
        self._predefined: Mapping[str, Any] = transport_options.get("predefined_queues") or {}
        self._region = str(transport_options.get("region") or "us-east-1")
        self._urls: dict[str, str] = {}

    def queue_url(self, client: Any, arn: str) -> str:
        url = self._urls.get(arn)
        if url is None:
            url = (self._predefined.get(queue_name_of(arn)) or {}).get("url")
            if not url:
                _, _, _, _, account, name = arn.split(":", 5)
                url = client.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
            self._urls[arn] = str(url)
        return self._urls[arn]

    def publish(self, message: CeleryMessage, *, delay_seconds: int, record: Mapping[str, Any]) -> None:
        parts = message.queue_arn.split(":")
        client = self._client_factory(parts[3] if len(parts) == 6 and parts[3] else self._region)
        # Lambda spells message attributes {"stringValue", "binaryValue", "dataType"}; SQS's API
        # wants them capitalised.
        attributes = {
            name: {_ATTRIBUTE_KEYS[k]: v for k, v in value.items() if k in _ATTRIBUTE_KEYS and v is not None}
            for name, value in (record.get("messageAttributes") or {}).items()
        }
        client.send_message(
            QueueUrl=self.queue_url(client, message.queue_arn),
            MessageBody=message.body,
            DelaySeconds=delay_seconds,
            **({"MessageAttributes": attributes} if attributes else {}),
        )


def _sqs_client(region: str) -> Any:
    from apps.cloud import api as cloud

    return cloud.client("sqs", region=region)


class BatchConsumer:
    """Runs SQS batches of Celery messages for one function.

    ``queues``: the SQS queue names this function consumes (``None``: any). A record from
    another queue means a misrouted event source mapping: it is reported as failed (it
    reaches the DLQ and an alarm) instead of being run by code that may not be here.
    ``import_task_modules``: load Celery's ``imports`` as a worker does; a peeled function
    registers its tasks through its own app config instead (the monolith's list names
    modules it does not ship).
    """

    def __init__(
        self,
        app: Celery,
        *,
        queues: frozenset[str] | None = None,
        republisher: Republisher | None = None,
        clock: Callable[[], float] = time.time,
        import_task_modules: bool = True,
    ) -> None:
        self.app = app
        self.queues = queues
        self.republisher = republisher or Republisher(
            _sqs_client, transport_options=app.conf.broker_transport_options or {}
        )
        self.clock = clock
        self.hostname = f"lambda@{socket.gethostname()}"
        self.accept = set(app.conf.accept_content or ["json"]) | {"application/json"}
        if import_task_modules:
            # Celery's ``imports``: a worker loads them at start, or their tasks are unknown.
            app.loader.import_default_modules()

    def __call__(self, event: Mapping[str, Any], context: LambdaContext | None = None) -> dict[str, Any]:
        return self.run(event, context).response()

    def run(self, event: Mapping[str, Any], context: LambdaContext | None = None) -> BatchReport:
        report = BatchReport()
        records = list(event.get("Records") or [])
        close_old_connections()
        try:
            for index, record in enumerate(records):
                record_id = str(record.get("messageId", index))
                left_ms = None if context is None else context.get_remaining_time_in_millis() - TIME_RESERVE_MS
                if left_ms is not None and left_ms < record_budget_ms():
                    for rest in records[index:]:
                        report.outcomes[str(rest.get("messageId"))] = Outcome.NOT_STARTED
                    log.warning("sqs.batch_out_of_time", not_started=len(records) - index, left_ms=left_ms)
                    break
                if left_ms is None:
                    outcome = self.consume(record)
                else:
                    with cloud_budget.time_budget(left_ms / 1000):
                        outcome = self.consume(record)
                report.outcomes[record_id] = outcome
                if not outcome.settled:
                    # The failure may have broken the connection; the next record gets a fresh one.
                    close_old_connections()
        finally:
            close_old_connections()
        counts: dict[str, int] = {}
        for outcome in report.outcomes.values():
            counts[outcome.value] = counts.get(outcome.value, 0) + 1
        log.info("sqs.batch_done", records=len(records), **counts)
        return report

    def consume(self, record: Mapping[str, Any]) -> Outcome:
        """One record's outcome; never raises (a batch must answer for every record)."""
        queue = queue_name_of(str(record.get("eventSourceARN", "")))
        if self.queues is not None and queue not in self.queues:
            log.error("sqs.foreign_queue", queue=queue, consumes=sorted(self.queues))
            return Outcome.FOREIGN
        try:
            message = decode_record(record, accept=self.accept)
        except Undecodable as error:
            log.error("sqs.undecodable", record_id=record.get("messageId"), queue=queue, error=str(error))
            return _park_undecodable(record, queue=queue, error=str(error))
        try:
            return self._consume(message, record)
        except Exception:
            log.exception("sqs.record_crashed", task=message.task_name, task_id=message.task_id)
            return Outcome.FAILED

    def _consume(self, message: CeleryMessage, record: Mapping[str, Any]) -> Outcome:
        now = self.clock()
        if message.expires is not None and message.expires.timestamp() < now:
            log.info("sqs.expired", task=message.task_name, task_id=message.task_id)
            return Outcome.EXPIRED
        if _already_ran(message):
            log.info("sqs.duplicate_delivery", task=message.task_name, task_id=message.task_id)
            return Outcome.DUPLICATE
        if message.eta is not None and message.eta.timestamp() > now + ETA_TOLERANCE_SECONDS:
            delay = min(MAX_DELAY_SECONDS, math.ceil(message.eta.timestamp() - now))
            self.republisher.publish(message, delay_seconds=delay, record=record)
            log.info("sqs.deferred", task=message.task_name, task_id=message.task_id, delay_seconds=delay)
            return Outcome.DEFERRED
        outcome = trace(self.app, message, hostname=self.hostname)
        if outcome.settled:
            _remember(message)
        return outcome


def sqs_dead_letter_envelope(record: Mapping[str, Any], *, queue: str) -> dict[str, Any]:
    """What a dead letter keeps of an SQS record: enough to read it, or send it again."""
    return {
        "type": "SqsRecord",
        "message_id": str(record.get("messageId", ""))[:36],
        "queue": queue,
        "body": str(record.get("body", "")),
        "attributes": dict(record.get("attributes") or {}),
    }


def _park_undecodable(record: Mapping[str, Any], *, queue: str, error: str) -> Outcome:
    """Keep a record nobody can read in Bespoke's dead letters (operators see it with the
    rest and discard it); only if that fails does SQS keep it (and, in the end, its DLQ)."""
    try:
        dead_letter_record(
            handler=f"sqs:{queue}",
            envelope=sqs_dead_letter_envelope(record, queue=queue),
            error_code="undecodable",
            error=error,
            attempts=1,
            history=[{"attempt": 1, "at": datetime.now(UTC).isoformat(), "error_code": "undecodable", "error": error}],
        )
    except Exception:
        log.exception("sqs.dead_letter_failed", record_id=record.get("messageId"))
        return Outcome.UNDECODABLE
    return Outcome.DEAD_LETTERED


# --- Publishing with a delay ---------------------------------------------------------------


def add_sqs_delay(sender: Any = None, headers: dict[str, Any] | None = None, properties: Any = None, **_: Any) -> None:
    """``before_task_publish``: give a message with a future ``eta`` (``countdown=``,
    ``retry()``) an SQS ``DelaySeconds``, so SQS holds it back instead of the consumer
    receiving it early and publishing it again. kombu's SQS transport passes the property
    on (capped at 900 s; a longer eta is deferred again on arrival)."""
    if headers is None or not isinstance(properties, dict):
        return
    eta = headers.get("eta")
    if not eta:
        return
    try:
        when = _instant(eta, "eta")
    except Undecodable:
        return
    if when is None:
        return
    delay = math.ceil(when.timestamp() - time.time())
    if delay > 0:
        properties["DelaySeconds"] = min(MAX_DELAY_SECONDS, delay)


def install_sqs_delay() -> None:
    signals.before_task_publish.connect(add_sqs_delay, weak=False, dispatch_uid="bespoke.sqs_delay")

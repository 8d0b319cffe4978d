"""Celery on Lambda: run an SQS batch of Celery messages as a Celery worker would.

The SQS event source mapping hands the function up to ``BatchSize`` records of one
queue. Each record is a message kombu's SQS transport published (``.delay()``, the outbox
relay, a task's own ``retry()``). For each one the consumer:

1. decodes it exactly as kombu does (``deploy/sqs/messages.py``); a record that cannot be
   decoded is kept in Bespoke's dead letters at once (handler ``sqs:<queue>``,
   ``deploy/sqs/dead_letters.py``) and deleted from the queue; only if that write fails
   does it come again;
2. skips it if the delivery inbox says this task id and attempt already ran to an end
   (``deploy/sqs/deliveries.py``: one query per batch, one insert when the batch ends);
3. if its ``eta`` is still in the future (a ``retry(countdown=…)`` or an ``eta`` that SQS
   could not delay, or delayed less than asked), publishes the same body again with
   ``DelaySeconds`` (``deploy/sqs/delay.py``; at most 900 s, SQS's limit: a longer wait
   makes several hops);
4. otherwise runs it through Celery's worker tracer (``deploy/sqs/running.py``);
5. reports the records that must come again in ``batchItemFailures`` — tasks that
   failed, and those not reached before the function's time ran out — so SQS redelivers
   only those and, after ``maxReceiveCount``, moves them to the queue's DLQ.

``acks_late`` semantics carry over: a record is deleted only when its outcome is settled
(success, retry published, ignored, expired, deferred, duplicate, dead-lettered).
"""

import math
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog
from celery import Celery
from django.conf import settings
from django.db import close_old_connections
from kombu.serialization import prepare_accept_content

from apps.cloud import budget as cloud_budget
from deploy.sqs.dead_letters import park_undecodable, sqs_dead_letter_envelope
from deploy.sqs.delay import MAX_DELAY_SECONDS, Republisher, add_sqs_delay, install_sqs_delay, sqs_client
from deploy.sqs.deliveries import DeliveryInbox
from deploy.sqs.messages import CeleryMessage, Undecodable, decode_record, queue_name_of
from deploy.sqs.running import Outcome, trace

__all__ = [
    "MAX_DELAY_SECONDS",
    "BatchConsumer",
    "BatchReport",
    "CeleryMessage",
    "Outcome",
    "Republisher",
    "Undecodable",
    "add_sqs_delay",
    "decode_record",
    "install_sqs_delay",
    "is_sqs_batch",
    "queue_name_of",
    "record_budget_ms",
    "sqs_dead_letter_envelope",
]

log = structlog.get_logger(__name__)

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


class LambdaContext(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


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


def is_sqs_batch(event: Any) -> bool:
    records = event.get("Records") if isinstance(event, dict) else None
    return (
        isinstance(records, list)
        and bool(records)
        and all(isinstance(r, dict) and r.get("eventSource") == "aws:sqs" for r in records)
    )


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
            sqs_client, transport_options=app.conf.broker_transport_options or {}
        )
        self.clock = clock
        self.hostname = f"lambda@{socket.gethostname()}"
        # kombu's names for the content types Celery accepts, once (not per record).
        accepted = prepare_accept_content(app.conf.accept_content or ["json"]) or set()
        self.accept = frozenset(accepted) | {"application/json"}
        if import_task_modules:
            # Celery's ``imports``: a worker loads them at start, or their tasks are unknown.
            app.loader.import_default_modules()

    def __call__(self, event: Mapping[str, Any], context: LambdaContext | None = None) -> dict[str, Any]:
        return self.run(event, context).response()

    def run(self, event: Mapping[str, Any], context: LambdaContext | None = None) -> BatchReport:
        report = BatchReport()
        records = list(event.get("Records") or [])
        budget_ms = record_budget_ms()
        decoded = [self._decode(record) for record in records]
        deliveries = DeliveryInbox(message for message in decoded if isinstance(message, CeleryMessage))
        close_old_connections()
        try:
            for index, (record, message) in enumerate(zip(records, decoded, strict=True)):
                record_id = str(record.get("messageId", index))
                left_ms = None if context is None else context.get_remaining_time_in_millis() - TIME_RESERVE_MS
                if left_ms is not None and left_ms < budget_ms:
                    for rest in records[index:]:
                        report.outcomes[str(rest.get("messageId"))] = Outcome.NOT_STARTED
                    log.warning("sqs.batch_out_of_time", not_started=len(records) - index, left_ms=left_ms)
                    break
                if left_ms is None:
                    outcome = self._consume(record, message, deliveries)
                else:
                    with cloud_budget.time_budget(left_ms / 1000):
                        outcome = self._consume(record, message, deliveries)
                report.outcomes[record_id] = outcome
                if not outcome.settled:
                    # The failure may have broken the connection; the next record gets a fresh one.
                    close_old_connections()
        finally:
            try:
                deliveries.record()
            except Exception:
                # What ran keeps its outcome: its effects are committed, and its handlers'
                # inbox keeps them once if SQS delivers it again.
                log.exception("sqs.delivery_inbox_failed")
            close_old_connections()
        counts: dict[str, int] = {}
        for outcome in report.outcomes.values():
            counts[outcome.value] = counts.get(outcome.value, 0) + 1
        log.info("sqs.batch_done", records=len(records), **counts)
        return report

    def _decode(self, record: Mapping[str, Any]) -> CeleryMessage | Undecodable | None:
        """The message; the reason it cannot be read; None if its queue is not ours."""
        if self.queues is not None and queue_name_of(str(record.get("eventSourceARN", ""))) not in self.queues:
            return None
        try:
            return decode_record(record, accept=self.accept)
        except Undecodable as error:
            return error

    def _consume(
        self, record: Mapping[str, Any], message: CeleryMessage | Undecodable | None, deliveries: DeliveryInbox
    ) -> Outcome:
        """One record's outcome; never raises (a batch must answer for every record)."""
        queue = queue_name_of(str(record.get("eventSourceARN", "")))
        if message is None:
            log.error("sqs.foreign_queue", queue=queue, consumes=sorted(self.queues or ()))
            return Outcome.FOREIGN
        if isinstance(message, Undecodable):
            log.error("sqs.undecodable", record_id=record.get("messageId"), queue=queue, error=str(message))
            parked = park_undecodable(record, queue=queue, error=str(message))
            return Outcome.DEAD_LETTERED if parked else Outcome.UNDECODABLE
        try:
            return self._run(message, record, deliveries)
        except Exception:
            log.exception("sqs.record_crashed", task=message.task_name, task_id=message.task_id)
            return Outcome.FAILED

    def _run(self, message: CeleryMessage, record: Mapping[str, Any], deliveries: DeliveryInbox) -> Outcome:
        now = self.clock()
        if message.expires is not None and message.expires.timestamp() < now:
            log.info("sqs.expired", task=message.task_name, task_id=message.task_id)
            return Outcome.EXPIRED
        if deliveries.already_ran(message):
            log.info("sqs.duplicate_delivery", task=message.task_name, task_id=message.task_id)
            return Outcome.DUPLICATE
        if message.eta is not None and message.eta.timestamp() > now + ETA_TOLERANCE_SECONDS:
            delay = min(MAX_DELAY_SECONDS, math.ceil(message.eta.timestamp() - now))
            self.republisher.publish(message, delay_seconds=delay, record=record)
            log.info("sqs.deferred", task=message.task_name, task_id=message.task_id, delay_seconds=delay)
            return Outcome.DEFERRED
        outcome = trace(self.app, message, hostname=self.hostname)
        if outcome.settled:
            deliveries.ran(message)
        return outcome

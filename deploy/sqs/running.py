"""Running a decoded message as a Celery worker would, and what came of it."""

from enum import StrEnum
from typing import Any

import structlog
from celery import Celery
from celery.app.trace import trace_task
from celery.exceptions import Reject
from celery.states import IGNORED, RETRY

from deploy.sqs.messages import CeleryMessage

log = structlog.get_logger(__name__)


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


_UNSETTLED = frozenset({Outcome.FAILED, Outcome.UNDECODABLE, Outcome.FOREIGN, Outcome.NOT_STARTED})


def worker_request(message: CeleryMessage, *, hostname: str) -> dict[str, Any]:
    """The request a worker builds (``celery.worker.request.Request``): the headers, the
    message's properties and delivery info (a retry goes back to the same queue), and the
    body's embedded callbacks, errbacks, chain and chord."""
    properties = message.properties
    delivery_info = properties.get("delivery_info") or {}
    return {
        **message.headers,
        "properties": properties,
        "reply_to": properties.get("reply_to"),
        "correlation_id": properties.get("correlation_id"),
        "hostname": hostname,
        "delivery_info": {
            "exchange": delivery_info.get("exchange"),
            "routing_key": delivery_info.get("routing_key"),
            "priority": properties.get("priority"),
            "redelivered": message.receive_count > 1,
        },
        "args": message.args,
        "kwargs": message.kwargs,
        "is_eager": False,
        "loglevel": None,
        "logfile": None,
        **message.embed,
    }


def trace(app: Celery, message: CeleryMessage, *, hostname: str) -> Outcome:
    """Run one message through Celery's worker tracer (``celery.app.trace.trace_task``, the
    code path of ``celery worker``, not eager ``apply``): signals, retries published to the
    broker, chains and callbacks, ``Reject``/``Ignore`` behave as in a worker."""
    task = app.tasks.get(message.task_name)
    if task is None:
        log.error("sqs.unknown_task", task=message.task_name, task_id=message.task_id)
        return Outcome.FAILED
    request = worker_request(message, hostname=hostname)
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

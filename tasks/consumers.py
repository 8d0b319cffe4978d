"""The Celery tasks: one per subscriber in ``subscriptions.py``, each thin — decode the
envelope, call one handler, retry what may succeed later.

Event handlers run inside a transaction that also claims the message in the inbox, so a
redelivered event has one effect. Step runners claim in ``execute_step`` after the
(idempotent) AWS work.
"""

from importlib import import_module
from typing import Any

import structlog
from celery import Task
from django.conf import settings
from django.db import DatabaseError, transaction

from apps.kernel import inbox
from apps.kernel.contracts import Message, UnknownMessage
from apps.kernel.errors import RetryableError
from apps.kernel.logging import bound
from apps.kernel.steps import RetryLater
from project.celery import app
from tasks.retry import backoff_seconds
from tasks.subscriptions import Subscriber, all_subscribers

log = structlog.get_logger(__name__)


def _handler(subscriber: Subscriber) -> Any:
    module, _, function = subscriber.handler.rpartition(".")
    return getattr(import_module(module), function)


def _decode(envelope: Any) -> Message | None:
    try:
        return Message.from_envelope(envelope)
    except UnknownMessage:
        log.error("message.undecodable", envelope=str(envelope)[:500])
        return None


def handle_event(subscriber: Subscriber, envelope: dict[str, Any]) -> None:
    """Apply one event once: the inbox claim and the handler's writes commit together."""
    message = _decode(envelope)
    if message is None:
        return
    with transaction.atomic():
        if not inbox.claim(subscriber.name, message.message_id):
            log.info("message.duplicate_ignored", handler=subscriber.name, message_id=message.message_id)
            return
        _handler(subscriber)(message)


def run_step(subscriber: Subscriber, envelope: dict[str, Any], *, attempt: int, retry_delay: float | None) -> None:
    """Hand a message to a runner (a step runner, a webhook delivery); it keeps its own
    exactly-once record and raises ``RetryLater`` to be tried again."""
    message = _decode(envelope)
    if message is None:
        return
    _handler(subscriber)(message, attempt=attempt, retry_delay=retry_delay)


def _max_attempts(envelope: dict[str, Any]) -> int:
    """A step's own bound (from its blueprint) or the deployment's default."""
    payload = envelope.get("payload")
    bound_by_step = payload.get("max_attempts") if isinstance(payload, dict) else None
    return int(bound_by_step) if bound_by_step else settings.TASK_MAX_RETRIES + 1


def _register(subscriber: Subscriber) -> None:

    @app.task(name=subscriber.name, bind=True, max_retries=None)
    def consume(self: Task, envelope: dict[str, Any]) -> None:  # type: ignore[type-arg]
        attempt = self.request.retries + 1
        last_attempt = attempt >= _max_attempts(envelope)
        with bound(
            request_id=envelope.get("correlation_id"),
            message_type=envelope.get("type"),
            message_id=envelope.get("message_id"),
            handler=subscriber.name,
            attempt=attempt,
        ):
            try:
                if subscriber.runner:
                    delay = None if last_attempt else backoff_seconds(attempt)
                    run_step(subscriber, envelope, attempt=attempt, retry_delay=delay)
                else:
                    handle_event(subscriber, envelope)
            except RetryLater as later:
                raise self.retry(countdown=later.delay) from later
            except (RetryableError, DatabaseError) as error:
                if last_attempt:
                    log.error("message.retries_exhausted", error=str(error))
                    raise
                delay = backoff_seconds(attempt)
                log.warning("message.retrying", error=str(error), retry_in=delay)
                raise self.retry(countdown=delay) from error


for _subscriber in all_subscribers():
    _register(_subscriber)

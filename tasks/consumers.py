"""The Celery tasks: one per subscriber in ``subscriptions.py``, each thin — decode the
envelope, call one handler, retry what may succeed later.

Event handlers run inside a transaction that also claims the message in the inbox, so a
redelivered event has one effect. Step runners take the step's lease in ``execute_step``
before any AWS work, and record the outcome with the inbox claim when it is done.
"""

from importlib import import_module
from typing import Any

import structlog
from celery import Task
from django.conf import settings
from django.db import DatabaseError, transaction

from apps.kernel import inbox, tracing
from apps.kernel.contracts import Message, StepFailed, UnknownMessage
from apps.kernel.deadletters import dead_letter_record, failure_entry
from apps.kernel.errors import RetryableError, StepError
from apps.kernel.logging import bound
from apps.kernel.steps import TRANSIENT_DATABASE_ERRORS, RetryLater
from project.celery import app
from tasks.retry import backoff_seconds, scheduled_seconds
from tasks.subscriptions import Subscriber, all_subscribers

log = structlog.get_logger(__name__)


def _handler(subscriber: Subscriber) -> Any:
    module, _, function = subscriber.handler.rpartition(".")
    return getattr(import_module(module), function)


def _decode(envelope: Any, subscriber: Subscriber | None = None) -> Message | None:
    """The message, or None when it cannot be decoded: for ``subscriber`` it is parked as
    a dead letter (an operator sees it, with what arrived, and can discard it or redrive it
    once a release knows how to read it), never silently dropped."""
    try:
        if not isinstance(envelope, dict):
            raise UnknownMessage(f"An envelope is a JSON object, not {type(envelope).__name__}.")
        return Message.from_envelope(envelope)
    except UnknownMessage as error:
        log.error("message.undecodable", envelope=str(envelope)[:500], error=str(error))
        if subscriber is None:
            return None
        kept = envelope if isinstance(envelope, dict) else {"undecodable": str(envelope)[:100_000]}
        dead_letter_record(
            handler=subscriber.name,
            envelope=kept,
            error_code="undecodable",
            error=str(error),
            attempts=1,
        )
        return None


# What leaves a consumer's span without marking it failed: the message is tried again.
_NOT_ERRORS = (RetryLater, *TRANSIENT_DATABASE_ERRORS)


def _consuming(subscriber: Subscriber, envelope: dict[str, Any]) -> Any:
    """The consumer's span: a child of the span that recorded the message (the envelope's
    ``trace``), so one trace crosses the outbox and the broker. A step runner's
    ``RetryLater`` (tried again, or waiting for a quota) does not mark it failed, nor does a
    database that is away (the message waits for it, it never fails for it)."""
    if not isinstance(envelope, dict):
        return tracing.span(f"consume {subscriber.name}", kind="consumer", not_errors=_NOT_ERRORS)
    return tracing.span(
        f"consume {subscriber.name}",
        parent=envelope.get("trace"),
        kind="consumer",
        attributes=lambda: {
            "messaging.operation.type": "process",
            "messaging.message.id": str(envelope.get("message_id")),
            "bespoke.message_type": str(envelope.get("type")),
        },
        not_errors=_NOT_ERRORS,
    )


def handle_event(subscriber: Subscriber, envelope: dict[str, Any]) -> None:
    """Apply one event once: the inbox claim and the handler's writes commit together."""
    with _consuming(subscriber, envelope):
        _handle_event(subscriber, envelope)


def _handle_event(subscriber: Subscriber, envelope: dict[str, Any]) -> None:
    message = _decode(envelope, subscriber)
    if message is None:
        return
    with transaction.atomic():
        if not inbox.claim(subscriber.name, message.message_id, first_write=True):
            log.info("message.duplicate_ignored", handler=subscriber.name, message_id=message.message_id)
            return
        _handler(subscriber)(message)


def run_step(
    subscriber: Subscriber, envelope: dict[str, Any], *, attempt: int, retry_delay: float | None
) -> Message | None:
    """Hand a message to a runner (a step runner, a webhook delivery); it keeps its own
    exactly-once record, raises ``RetryLater`` to be tried again, and returns the outcome it
    recorded, if any."""
    with _consuming(subscriber, envelope):
        message = _decode(envelope, subscriber)
        if message is None:
            return None
        outcome: Message | None = _handler(subscriber)(message, attempt=attempt, retry_delay=retry_delay)
        return outcome


def _schedule(subscriber: Subscriber) -> list[float]:
    return [float(seconds) for seconds in getattr(settings, subscriber.retry_schedule)]


def _backoff(subscriber: Subscriber, attempt: int) -> float:
    if subscriber.retry_schedule:
        return scheduled_seconds(_schedule(subscriber), attempt)
    return backoff_seconds(attempt)


def _max_attempts(envelope: dict[str, Any], subscriber: Subscriber | None = None) -> int:
    """A subscriber's own schedule, a step's own bound (from its blueprint), or the
    deployment's default."""
    if subscriber is not None and subscriber.retry_schedule:
        return len(_schedule(subscriber)) + 1
    payload = envelope.get("payload")
    bound_by_step = payload.get("max_attempts") if isinstance(payload, dict) else None
    return int(bound_by_step) if bound_by_step else settings.TASK_MAX_RETRIES + 1


def _failure(attempt: int, code: str, error: str) -> dict[str, Any]:
    return failure_entry(attempt=attempt, error_code=code, error=error)


def give_up(subscriber: Subscriber, envelope: dict[str, Any], *, history: list[dict[str, Any]]) -> None:
    """Park the message as a dead letter (operators are told, and can redrive it)."""
    last = history[-1]
    dead_letter_record(
        handler=subscriber.name,
        envelope=envelope,
        error_code=last["error_code"],
        error=last["error"],
        attempts=last["attempt"],
        history=history,
    )
    log.error("message.dead_lettered", error_code=last["error_code"], error=last["error"])


def _register(subscriber: Subscriber) -> None:
    @app.task(name=subscriber.name, bind=True, max_retries=None)
    def consume(
        self: Task,  # type: ignore[type-arg]
        envelope: dict[str, Any],
        attempt: int | None = None,
        history: list[dict[str, Any]] | None = None,
        database_failures: int = 0,
    ) -> None:
        """Attempts are counted here, not by Celery's retry counter: waiting for a quota,
        or for the database to come back, is retried without using up an attempt."""
        attempt = attempt or self.request.retries + 1
        history = list(history or [])
        last_attempt = attempt >= _max_attempts(envelope, subscriber)
        with bound(
            request_id=envelope.get("correlation_id"),
            message_type=envelope.get("type"),
            message_id=envelope.get("message_id"),
            handler=subscriber.name,
            attempt=attempt,
        ):
            try:
                if subscriber.runner:
                    delay = None if last_attempt else _backoff(subscriber, attempt)
                    outcome = run_step(subscriber, envelope, attempt=attempt, retry_delay=delay)
                    if isinstance(outcome, StepFailed):
                        give_up(
                            subscriber,
                            envelope,
                            history=[*history, _failure(attempt, outcome.error_code, outcome.message)],
                        )
                else:
                    handle_event(subscriber, envelope)
            except RetryLater as later:
                if not later.counts:
                    raise self.retry(countdown=later.delay, kwargs={"attempt": attempt, "history": history}) from later
                failed = [*history, _failure(attempt, later.error.code, later.error.message)]
                raise self.retry(countdown=later.delay, kwargs={"attempt": attempt + 1, "history": failed}) from later
            except TRANSIENT_DATABASE_ERRORS as error:
                # The database is away or refused the transaction (a dropped connection, a
                # serialization failure): it passes, so the message waits for it, backing
                # off, and never fails or is dead-lettered for it.
                delay = backoff_seconds(database_failures + 1)
                log.warning("message.database_unavailable", error=str(error), retry_in=delay)
                raise self.retry(
                    countdown=delay,
                    kwargs={"attempt": attempt, "history": history, "database_failures": database_failures + 1},
                ) from error
            except (RetryableError, DatabaseError) as error:
                code = error.code if isinstance(error, RetryableError) else type(error).__name__
                failed = [*history, _failure(attempt, code, str(error))]
                if last_attempt:
                    give_up(subscriber, envelope, history=failed)
                    return
                delay = _backoff(subscriber, attempt)
                log.warning("message.retrying", error=str(error), retry_in=delay)
                raise self.retry(countdown=delay, kwargs={"attempt": attempt + 1, "history": failed}) from error
            except Exception as error:
                # A bug or a permanent refusal, not a condition that passes: retrying would
                # repeat it. Park it (keeping a refusal's own code, e.g. the AWS error code).
                log.exception("message.handler_crashed")
                code = error.code if isinstance(error, StepError) else type(error).__name__
                give_up(subscriber, envelope, history=[*history, _failure(attempt, code, str(error))])


for _subscriber in all_subscribers():
    _register(_subscriber)

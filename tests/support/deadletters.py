"""What the dead-letter tests share: delivering a message as a worker does, the outbox's
messages of one type, and letters made by a crashing handler or recorded directly."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from apps.kernel import clock
from apps.kernel.deadletters import dead_letter_record
from apps.kernel.models import DeadLetter, OutboxMessage
from apps.workflow.contracts import RunStarted
from project.celery import app
from tasks.subscriptions import EVENT_SUBSCRIBERS

CLIENT = "00000000-0000-4000-8000-00000000c11e"
SENDER = "bespoke@example.com"
AT = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)
[ON_ACCOUNT_REQUESTED] = EVENT_SUBSCRIBERS["AccountRequested"]
[ON_DEAD_LETTER] = EVENT_SUBSCRIBERS["DeadLetterCreated"]


class Boom(Exception):
    pass


def deliver(task_name: str, envelope: dict[str, Any], **kwargs: Any) -> None:
    """One delivery of ``envelope`` to a task, as a worker makes it.

    Calling the task object directly (``app.tasks[name](envelope)``) makes Celery's
    ``retry`` raise a bare ``Retry`` without the next message; run as a worker's
    (eager) request, it raises ``Retry`` carrying the signature of the message it would
    send — its kwargs are what the next attempt receives — and sends nothing."""
    task = app.tasks[task_name]
    task.push_request(args=[envelope], kwargs=kwargs, called_directly=False, is_eager=True)
    try:
        task.run(envelope, **kwargs)
    finally:
        task.pop_request()


def outbox(message_type: str) -> list[dict[str, Any]]:
    return [row.envelope for row in OutboxMessage.objects.filter(type=message_type).order_by("sequence")]


def crash_on_run_started(monkeypatch: pytest.MonkeyPatch) -> None:
    from apps.intake import handlers

    def crashes(event: RunStarted) -> None:
        raise Boom("the handler has a bug")

    monkeypatch.setattr(handlers, "on_run_started", crashes)


def letter_for_crashed_event(monkeypatch: pytest.MonkeyPatch, request_id: str = "request-1") -> DeadLetter:
    """A dead letter left by intake's RunStarted handler crashing (the crash stays patched)."""
    crash_on_run_started(monkeypatch)
    deliver("intake.on_run_started", RunStarted(run_id="run-1", request_id=request_id).to_envelope())
    return DeadLetter.objects.latest("created_at")


def plain_letter(handler: str = "intake.on_run_started", **changes: Any) -> str:
    """A dead letter recorded directly (no handler involved)."""
    envelope = RunStarted(run_id="run-1", request_id="request-1").to_envelope()
    fields: dict[str, Any] = {
        "handler": handler,
        "envelope": envelope,
        "error_code": "Boom",
        "error": "the handler has a bug",
        "attempts": 1,
        "history": [{"attempt": 1, "at": clock.now().isoformat(), "error_code": "Boom", "error": "bug"}],
        **changes,
    }
    return dead_letter_record(**fields).id


SentMail = Callable[[], list[Any]]


def operator_mails(sent_mail: SentMail) -> list[Any]:
    """The operators' dead-letter alerts among the mail sent."""
    return [mail for mail in sent_mail() if "Dead letter" in mail.subject]

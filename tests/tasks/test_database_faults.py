"""A database that is away or refuses a transaction for now (a serialization failure, a
dropped connection) is a condition that passes: steps and handlers meeting it are tried
again after a back-off, without using up an attempt, and never failed for it."""

from typing import Any

import pytest
from celery.exceptions import Retry
from django.db import InterfaceError, OperationalError, connection, transaction

from apps.kernel.contracts import RunStep
from apps.kernel.models import DeadLetter, OutboxMessage, ProcessedMessage
from apps.kernel.steps import StepContext, execute_step
from apps.workflow.contracts import RunStarted
from project.celery import app

pytestmark = pytest.mark.django_db


def deliver(task_name: str, envelope: dict[str, Any], **kwargs: Any) -> None:
    """One delivery as a worker makes it: a retry raises ``Retry`` carrying the next
    message's kwargs, and sends nothing."""
    task = app.tasks[task_name]
    task.push_request(args=[envelope], kwargs=kwargs, called_directly=False, is_eager=True)
    try:
        task.run(envelope, **kwargs)
    finally:
        task.pop_request()


def serialization_failure(context: StepContext | None = None) -> dict[str, Any]:
    """PostgreSQL itself refuses the transaction: SQLSTATE 40001, as two concurrent
    serializable transactions would."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DO $$ BEGIN RAISE EXCEPTION 'could not serialize access' USING ERRCODE = '40001'; END $$")
    return {}


def dropped_connection(context: StepContext | None = None) -> dict[str, Any]:
    raise InterfaceError("connection already closed")


def command() -> RunStep:
    return RunStep(run_id="run-1", step="create_account", context="accounts", inputs={"request_id": "r-1"})


def outbox(type_name: str) -> list[OutboxMessage]:
    return list(OutboxMessage.objects.filter(type=type_name))


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a real PostgreSQL serialization failure")
def test_a_serialization_failure_is_a_database_error_the_step_runner_does_not_record_as_a_failure() -> None:
    with pytest.raises(OperationalError):
        execute_step(command(), {"create_account": serialization_failure}, attempt=1, retry_delay=1.0)

    assert outbox("StepFailed") == []
    assert not ProcessedMessage.objects.exists()  # the command can still be applied


@pytest.mark.parametrize("attempt", [1, 3])
def test_a_dropped_connection_inside_a_step_fails_nothing_even_on_its_last_attempt(attempt: int) -> None:
    with pytest.raises(InterfaceError):
        execute_step(command(), {"create_account": dropped_connection}, attempt=attempt, retry_delay=None)

    assert outbox("StepFailed") == []
    assert not ProcessedMessage.objects.exists()


def test_a_step_meeting_a_database_error_on_its_last_attempt_is_retried_without_using_an_attempt(
    monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    from apps.accounts import handlers

    settings.TASK_MAX_RETRIES = 0  # one attempt: any counted failure would give up
    monkeypatch.setattr(handlers, "run_step", lambda message, **_: serialization_failure())
    envelope = command().to_envelope()

    with pytest.raises(Retry) as first:
        deliver("accounts.run_step", envelope)
    assert first.value.sig.kwargs["attempt"] == 1
    assert first.value.sig.kwargs["database_failures"] == 1
    assert first.value.when > 0

    with pytest.raises(Retry) as second:
        deliver("accounts.run_step", envelope, **first.value.sig.kwargs)
    assert second.value.sig.kwargs["attempt"] == 1
    assert second.value.sig.kwargs["database_failures"] == 2
    assert not DeadLetter.objects.exists()
    assert outbox("StepFailed") == []


def test_an_event_handler_meeting_a_dropped_connection_is_retried_not_dead_lettered(
    monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    from apps.intake import handlers

    settings.TASK_MAX_RETRIES = 0
    monkeypatch.setattr(handlers, "on_run_started", lambda event: dropped_connection())
    envelope = RunStarted(run_id="run-1", request_id="request-1").to_envelope()

    with pytest.raises(Retry) as retried:
        deliver("intake.on_run_started", envelope)

    assert retried.value.sig.kwargs["attempt"] == 1
    assert retried.value.sig.kwargs["history"] == []
    assert not DeadLetter.objects.exists()
    assert not ProcessedMessage.objects.exists()  # the claim rolled back with the handler


def test_an_integrity_error_is_not_taken_for_a_passing_one(monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    from django.db import IntegrityError

    from apps.intake import handlers

    settings.TASK_MAX_RETRIES = 0

    def broken(event: RunStarted) -> None:
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(handlers, "on_run_started", broken)
    deliver("intake.on_run_started", RunStarted(run_id="run-1", request_id="request-1").to_envelope())

    [letter] = DeadLetter.objects.all()
    assert letter.error_code == "IntegrityError"

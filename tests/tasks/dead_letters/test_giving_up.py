"""Giving up: a transient failure is retried with its history; the last attempt, a
permanent failure or a crashing handler parks the message as a dead letter."""

from typing import Any

import pytest
from celery.exceptions import Retry

from apps.accounts import api as accounts
from apps.intake.models import AccountRequest
from apps.intake.services import request_create
from apps.kernel.errors import RetryableError, WaitForQuota
from apps.kernel.models import DeadLetter, ProcessedMessage
from apps.kernel.steps import StepContext
from apps.workflow.contracts import RunStarted
from apps.workflow.models import Run
from tests.conftest import EmulatedAws
from tests.support.deadletters import AT, CLIENT, crash_on_run_started, deliver, outbox
from tests.support.factories import request_body
from tests.support.faults import inject

pytestmark = pytest.mark.django_db


def test_a_transient_failure_is_retried_with_the_next_attempt_and_the_growing_history(
    started: tuple[str, dict[str, Any]], aws: EmulatedAws, settings: Any
) -> None:
    _, command = started
    inject(settings, "organizations:CreateAccount:TooManyRequestsException")

    with pytest.raises(Retry) as first:
        deliver("accounts.run_step", command)

    assert first.value.sig.args == (command,)
    assert first.value.sig.kwargs["attempt"] == 2
    [failure] = first.value.sig.kwargs["history"]
    assert (failure["attempt"], failure["error_code"]) == (1, "TooManyRequestsException")
    assert first.value.when > 0  # backed off

    with pytest.raises(Retry) as second:
        deliver("accounts.run_step", command, **first.value.sig.kwargs)

    assert second.value.sig.kwargs["attempt"] == 3
    assert [h["attempt"] for h in second.value.sig.kwargs["history"]] == [1, 2]
    assert [e["payload"]["attempts"] for e in outbox("StepRetrying")] == [1, 2]
    assert not DeadLetter.objects.exists()
    assert outbox("StepFailed") == []


def test_the_last_attempt_gives_up_into_a_dead_letter_with_its_history(
    started: tuple[str, dict[str, Any]], aws: EmulatedAws, settings: Any
) -> None:
    _, command = started
    settings.TASK_MAX_RETRIES = 2  # three attempts
    inject(settings, "organizations:CreateAccount:TooManyRequestsException")
    kwargs: dict[str, Any] = {}
    retries = 0
    while True:
        try:
            deliver("accounts.run_step", command, **kwargs)
            break
        except Retry as retry:
            retries += 1
            kwargs = dict(retry.sig.kwargs)

    assert retries == 2
    [letter] = DeadLetter.objects.all()
    assert letter.handler == "accounts.run_step"
    assert (letter.message_type, letter.message_id) == ("RunStep", command["message_id"])
    assert letter.envelope == command
    assert letter.error_code == "TooManyRequestsException"
    assert "gave up after 3 attempts" in letter.error
    assert letter.attempts == 3
    assert [(h["attempt"], h["error_code"]) for h in letter.history] == [
        (1, "TooManyRequestsException"),
        (2, "TooManyRequestsException"),
        (3, "TooManyRequestsException"),
    ]
    assert letter.state == DeadLetter.State.OPEN
    [created] = outbox("DeadLetterCreated")
    assert created["payload"] == {
        "dead_letter_id": letter.id,
        "handler": "accounts.run_step",
        "message_type": "RunStep",
        "error_code": "TooManyRequestsException",
        "error": letter.error,
        "attempts": 3,
    }
    [failed] = outbox("StepFailed")
    assert (failed["payload"]["error_code"], failed["payload"]["attempts"]) == ("TooManyRequestsException", 3)


def test_a_step_bound_by_its_blueprint_gives_up_after_its_own_attempts(
    started: tuple[str, dict[str, Any]], aws: EmulatedAws, settings: Any
) -> None:
    _, command = started
    command = {**command, "payload": {**command["payload"], "max_attempts": 2}}
    inject(settings, "organizations:CreateAccount:TooManyRequestsException")

    with pytest.raises(Retry) as first:
        deliver("accounts.run_step", command)
    deliver("accounts.run_step", command, **first.value.sig.kwargs)

    [letter] = DeadLetter.objects.all()
    assert letter.attempts == 2


def test_waiting_for_a_quota_uses_up_no_attempt(
    started: tuple[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from apps.accounts.steps import creation

    def waits(context: StepContext) -> dict[str, Any]:
        raise WaitForQuota("five creations in flight", delay=7.0)

    _, command = started
    monkeypatch.setattr(creation, "create_account", waits)
    history = [{"attempt": 1, "at": AT.isoformat(), "error_code": "Throttling", "error": "slow down"}]

    with pytest.raises(Retry) as waited:
        deliver("accounts.run_step", command, attempt=2, history=history)

    assert waited.value.sig.kwargs == {"attempt": 2, "history": history}
    assert waited.value.when == 7.0
    assert not DeadLetter.objects.exists()


def test_a_step_failing_for_good_is_dead_lettered_at_once_and_its_failure_recorded(
    started: tuple[str, dict[str, Any]], aws: EmulatedAws, settings: Any
) -> None:
    request_id, command = started
    inject(settings, "organizations:CreateAccount:AccessDenied")

    deliver("accounts.run_step", command)  # no Retry: permanent

    [letter] = DeadLetter.objects.all()
    assert (letter.handler, letter.error_code, letter.attempts) == ("accounts.run_step", "AccessDenied", 1)
    assert [(h["attempt"], h["error_code"]) for h in letter.history] == [(1, "AccessDenied")]
    [failed] = outbox("StepFailed")
    assert (failed["payload"]["step"], failed["payload"]["error_code"]) == ("create_account", "AccessDenied")
    assert len(outbox("DeadLetterCreated")) == 1
    assert Run.objects.get(request_id=request_id).status == Run.Status.RUNNING  # until StepFailed is handled


def test_a_redelivered_step_that_already_failed_is_not_dead_lettered_again(
    started: tuple[str, dict[str, Any]], aws: EmulatedAws, settings: Any
) -> None:
    _, command = started
    inject(settings, "organizations:CreateAccount:AccessDenied")

    deliver("accounts.run_step", command)
    deliver("accounts.run_step", command)  # the broker delivers it again

    assert DeadLetter.objects.count() == 1
    assert len(outbox("StepFailed")) == 1


def test_a_crashing_event_handler_is_dead_lettered_at_once(
    monkeypatch: pytest.MonkeyPatch, demo_payer: accounts.PayerSummary
) -> None:
    request_id = request_create(client_id=CLIENT, data=request_body()).id
    envelope = RunStarted(run_id="run-1", request_id=request_id).to_envelope()
    crash_on_run_started(monkeypatch)

    deliver("intake.on_run_started", envelope)  # no Retry: a bug is not retried

    [letter] = DeadLetter.objects.all()
    assert (letter.handler, letter.message_type, letter.envelope) == ("intake.on_run_started", "RunStarted", envelope)
    assert (letter.error_code, letter.error, letter.attempts) == ("Boom", "the handler has a bug", 1)
    assert not ProcessedMessage.objects.exists()  # the claim rolled back with the handler
    assert AccountRequest.objects.get(id=request_id).status == "accepted"


def test_an_event_handler_failing_transiently_is_retried_then_dead_lettered(
    monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    from apps.intake import handlers

    def flaky(event: RunStarted) -> None:
        raise RetryableError("database is busy", code="Busy")

    monkeypatch.setattr(handlers, "on_run_started", flaky)
    settings.TASK_MAX_RETRIES = 1
    envelope = RunStarted(run_id="run-1", request_id="request-1").to_envelope()

    with pytest.raises(Retry) as retried:
        deliver("intake.on_run_started", envelope)
    assert retried.value.sig.kwargs["attempt"] == 2
    assert not DeadLetter.objects.exists()

    deliver("intake.on_run_started", envelope, **retried.value.sig.kwargs)

    [letter] = DeadLetter.objects.all()
    assert (letter.error_code, letter.attempts, len(letter.history)) == ("Busy", 2, 2)


def test_a_handler_refused_for_good_keeps_the_error_code_of_its_cause(
    monkeypatch: pytest.MonkeyPatch, demo_payer: accounts.PayerSummary
) -> None:
    from apps.intake import handlers
    from apps.kernel.errors import PermanentError

    def refused(event: RunStarted) -> None:
        raise PermanentError("Email address is not verified.", code="MessageRejected")

    monkeypatch.setattr(handlers, "on_run_started", refused)

    deliver("intake.on_run_started", RunStarted(run_id="run-1", request_id="request-1").to_envelope())

    [letter] = DeadLetter.objects.all()
    assert (letter.error_code, letter.error) == ("MessageRejected", "Email address is not verified.")

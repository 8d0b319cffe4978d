"""The consumers: decode an envelope, apply it once, drop what cannot be decoded; how
envelopes travel; how long a retry waits."""

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import override_settings

from apps.intake.contracts import ACCEPTED, PROVISIONING, AccountRequested
from apps.intake.models import AccountRequest
from apps.intake.services import request_create
from apps.kernel.contracts import (
    Message,
    RunStep,
    StepFailed,
    StepRetrying,
    StepSucceeded,
    UnknownMessage,
)
from apps.kernel.models import DeadLetter, ProcessedMessage
from apps.workflow.contracts import RunFailed, RunStarted, RunSucceeded
from tasks import consumers
from tasks.retry import backoff_seconds
from tasks.subscriptions import EVENT_SUBSCRIBERS, STEP_RUNNERS, Subscriber
from tests.support import factories
from tests.support.factories import request_body

[INTAKE_ON_RUN_STARTED] = [s for s in EVENT_SUBSCRIBERS["RunStarted"] if s.name == "intake.on_run_started"]
CLIENT_ID = "00000000-0000-4000-8000-00000000c11e"


class Boom(Exception):
    pass


@pytest.fixture
def request_id(db: None) -> str:
    factories.payer(
        "demo", management_account_id="123456789012", allowed_environments=["dev"], allowed_regions=["us-east-1"]
    )
    return request_create(client_id=CLIENT_ID, data=request_body()).id


@pytest.fixture
def run_started_calls(monkeypatch: pytest.MonkeyPatch) -> list[RunStarted]:
    """Calls of intake's RunStarted handler (which still does its work)."""
    from apps.intake import handlers

    calls: list[RunStarted] = []
    original = handlers.on_run_started

    def counting(event: RunStarted) -> None:
        calls.append(event)
        original(event)

    monkeypatch.setattr(handlers, "on_run_started", counting)
    return calls


def status_of(request_id: str) -> str:
    return AccountRequest.objects.get(id=request_id).status


def undecodable_logged(caplog: pytest.LogCaptureFixture) -> bool:
    return any(
        isinstance(record.msg, dict) and record.msg.get("event") == "message.undecodable"
        for record in caplog.records
        if record.levelno >= logging.ERROR
    )


# --- Exactly-once effect ---------------------------------------------------------------


@pytest.mark.django_db
def test_the_same_event_delivered_twice_has_one_effect(request_id: str, run_started_calls: list[RunStarted]) -> None:
    envelope = RunStarted(run_id="run-1", request_id=request_id).to_envelope()

    consumers.handle_event(INTAKE_ON_RUN_STARTED, envelope)
    consumers.handle_event(INTAKE_ON_RUN_STARTED, envelope)

    assert status_of(request_id) == PROVISIONING
    assert len(run_started_calls) == 1
    assert run_started_calls[0].request_id == request_id
    assert ProcessedMessage.objects.filter(handler="intake.on_run_started").count() == 1


@pytest.mark.django_db
def test_a_new_event_with_the_same_content_is_applied_again(
    request_id: str, run_started_calls: list[RunStarted]
) -> None:
    consumers.handle_event(INTAKE_ON_RUN_STARTED, RunStarted(run_id="run-1", request_id=request_id).to_envelope())
    consumers.handle_event(INTAKE_ON_RUN_STARTED, RunStarted(run_id="run-1", request_id=request_id).to_envelope())

    assert len(run_started_calls) == 2  # dedupe is by message id, not by content


@pytest.mark.django_db
def test_each_subscriber_applies_the_event_once_for_itself(
    request_id: str, run_started_calls: list[RunStarted]
) -> None:
    other = Subscriber("audit.on_run_started", INTAKE_ON_RUN_STARTED.handler)
    envelope = RunStarted(run_id="run-1", request_id=request_id).to_envelope()

    for subscriber in (INTAKE_ON_RUN_STARTED, other, INTAKE_ON_RUN_STARTED, other):
        consumers.handle_event(subscriber, envelope)

    assert len(run_started_calls) == 2


@pytest.mark.django_db
def test_a_handler_that_fails_leaves_the_event_to_be_applied_on_redelivery(
    request_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from apps.intake import handlers

    original = handlers.on_run_started

    def fails_after_its_effect(event: RunStarted) -> None:
        original(event)
        raise Boom("database went away")

    envelope = RunStarted(run_id="run-1", request_id=request_id).to_envelope()
    monkeypatch.setattr(handlers, "on_run_started", fails_after_its_effect)

    with pytest.raises(Boom):
        consumers.handle_event(INTAKE_ON_RUN_STARTED, envelope)

    assert status_of(request_id) == ACCEPTED  # the effect rolled back with the claim
    assert not ProcessedMessage.objects.exists()

    monkeypatch.setattr(handlers, "on_run_started", original)
    consumers.handle_event(INTAKE_ON_RUN_STARTED, envelope)

    assert status_of(request_id) == PROVISIONING


# --- Undecodable envelopes -------------------------------------------------------------


def _valid() -> dict[str, Any]:
    return RunStarted(run_id="run-1", request_id="request-1").to_envelope()


def _without(key: str) -> dict[str, Any]:
    envelope = _valid()
    del envelope[key]
    return envelope


def _with(**changes: Any) -> dict[str, Any]:
    return {**_valid(), **changes}


UNDECODABLE: dict[str, Callable[[], dict[str, Any]]] = {
    "unknown type": lambda: _with(type="AccountTeleported"),
    "no type": lambda: _without("type"),
    "no message id": lambda: _without("message_id"),
    "no occurred_at": lambda: _without("occurred_at"),
    "no payload": lambda: _without("payload"),
    "a payload field missing": lambda: _with(payload={"run_id": "run-1"}),
    "an unexpected payload field": lambda: _with(payload={"run_id": "run-1", "request_id": "r", "colour": "red"}),
    "a payload that is not an object": lambda: _with(payload=["run-1", "request-1"]),
    "a bad timestamp": lambda: _with(occurred_at="yesterday"),
    "an empty envelope": dict,
}


@pytest.mark.django_db
@pytest.mark.parametrize("make_envelope", UNDECODABLE.values(), ids=UNDECODABLE.keys())
def test_an_undecodable_envelope_is_logged_and_parked_as_a_dead_letter(
    make_envelope: Callable[[], dict[str, Any]],
    run_started_calls: list[RunStarted],
    caplog: pytest.LogCaptureFixture,
) -> None:
    envelope = make_envelope()
    consumers.handle_event(INTAKE_ON_RUN_STARTED, envelope)  # does not raise

    assert run_started_calls == []
    assert not ProcessedMessage.objects.exists()
    assert undecodable_logged(caplog)
    [letter] = DeadLetter.objects.all()
    assert (letter.handler, letter.error_code, letter.envelope) == ("intake.on_run_started", "undecodable", envelope)


@pytest.mark.django_db
def test_a_runner_gets_the_decoded_command_with_its_attempt_and_drops_what_it_cannot_decode(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from apps.accounts import handlers

    calls: list[tuple[Message, int, float | None]] = []

    def runner(message: Message, *, attempt: int, retry_delay: float | None) -> None:
        calls.append((message, attempt, retry_delay))

    monkeypatch.setattr(handlers, "run_step", runner)
    step_runner = STEP_RUNNERS["accounts"]
    command = RunStep(run_id="run-1", step="create_account", context="accounts")

    consumers.run_step(step_runner, _with(type="Nope"), attempt=1, retry_delay=None)
    consumers.run_step(step_runner, _without("payload"), attempt=1, retry_delay=None)
    consumers.run_step(step_runner, command.to_envelope(), attempt=3, retry_delay=8.0)

    assert calls == [(command, 3, 8.0)]
    assert undecodable_logged(caplog)


# --- Envelopes -------------------------------------------------------------------------

AT = datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
QUOTED = "O'Brien's \"quoted\" project \\ with a backslash, ünïcode and a\nnewline"

MESSAGES: list[Message] = [
    AccountRequested(
        occurred_at=AT,
        request_id="request-1",
        payer="demo",
        environment="dev",
        region="us-east-1",
        regulated=False,
        account_email="aws.demo.msfp.dev@example.com",
        account_name="demo-msfp-dev",
        tags={"project_name": QUOTED, "cost_center": "1000100099"},
        vpc={"az_count": 2, "prefix_length": 24},
        user_access_list=["whitew", "doej"],
        technical_contact={"full_name": 'Walter "Heisenberg" White', "username": "whitew"},
        requestor={"full_name": "John Doe", "email": "john.doe@example.com"},
    ),
    RunStarted(occurred_at=AT, run_id="run-1", request_id="request-1"),
    RunSucceeded(occurred_at=AT, run_id="run-1", request_id="request-1", outputs={"account_id": "123456789012"}),
    RunFailed(occurred_at=AT, run_id="run-1", request_id="request-1", step="vpc", error_code="X", message=QUOTED),
    RunStep(run_id="run-1", step="vpc", context="network", attempt=3, inputs={"nested": {"list": [1, 2.5, None]}}),
    StepSucceeded(run_id="run-1", step="vpc", attempts=2, outputs={"vpc_id": "vpc-1", "ok": True}),
    StepRetrying(run_id="run-1", step="vpc", attempts=1, error_code="Throttling", message=QUOTED, retry_in_seconds=1.5),
    StepFailed(run_id="run-1", step="vpc", attempts=8, error_code="AccessDenied", message=QUOTED),
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: m.type_name())
def test_a_message_survives_the_trip_through_a_json_envelope(message: Message) -> None:
    envelope = message.to_envelope(correlation_id="request-7")
    travelled = json.loads(json.dumps(envelope))  # what Celery's JSON serializer does

    decoded = Message.from_envelope(travelled)

    assert decoded == message
    assert type(decoded) is type(message)
    assert travelled["type"] == message.type_name()
    assert travelled["version"] == 1
    assert travelled["correlation_id"] == "request-7"


def test_a_quote_in_a_string_field_comes_back_unchanged() -> None:
    [requested] = [m for m in MESSAGES if isinstance(m, AccountRequested)]

    decoded = AccountRequested.from_envelope(json.loads(json.dumps(requested.to_envelope())))

    assert decoded.tags["project_name"] == QUOTED
    assert decoded.technical_contact["full_name"] == 'Walter "Heisenberg" White'
    assert decoded.occurred_at == AT


def test_decoding_as_a_narrower_type_refuses_other_messages() -> None:
    envelope = RunStarted(run_id="run-1", request_id="request-1").to_envelope()

    with pytest.raises(UnknownMessage, match="not a RunStep"):
        RunStep.from_envelope(envelope)


# --- Back-off --------------------------------------------------------------------------


@override_settings(TASK_RETRY_BASE_SECONDS=2.0, TASK_RETRY_MAX_SECONDS=300.0)
@pytest.mark.parametrize(("attempt", "ceiling"), [(1, 2.0), (2, 4.0), (3, 8.0), (5, 32.0), (8, 256.0), (9, 300.0)])
def test_backoff_stays_between_half_the_ceiling_and_the_ceiling(attempt: int, ceiling: float) -> None:
    delays = [backoff_seconds(attempt) for _ in range(200)]

    assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
    assert len(set(delays)) > 1  # jittered, so a burst of failures spreads out


@override_settings(TASK_RETRY_BASE_SECONDS=2.0, TASK_RETRY_MAX_SECONDS=300.0)
def test_backoff_doubles_with_each_attempt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tasks.retry.random.uniform", lambda low, high: high)
    assert [backoff_seconds(attempt) for attempt in range(1, 6)] == [2.0, 4.0, 8.0, 16.0, 32.0]

    monkeypatch.setattr("tasks.retry.random.uniform", lambda low, high: low)
    assert [backoff_seconds(attempt) for attempt in range(1, 6)] == [1.0, 2.0, 4.0, 8.0, 16.0]


@override_settings(TASK_RETRY_BASE_SECONDS=2.0, TASK_RETRY_MAX_SECONDS=60.0)
def test_backoff_is_capped_by_the_maximum_however_many_attempts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tasks.retry.random.uniform", lambda low, high: high)

    assert backoff_seconds(6) == 60.0  # 2 * 2**5 = 64 would exceed the cap
    assert backoff_seconds(50) == 60.0
    assert backoff_seconds(10_000) == 60.0  # no float overflow on the way to the cap

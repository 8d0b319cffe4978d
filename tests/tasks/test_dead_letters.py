"""Dead letters: a message whose handler gives up is parked with its payload, error and
attempt history; operators are told, and redrive or discard it (service, API, command,
admin). The headline: a step failing for good, redriven once the fault is gone, completes
its run."""

import io
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from celery.exceptions import Retry
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.test import Client
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends
from rest_framework.test import APIClient

from apps.accounts import api as accounts
from apps.clients.contracts import REQUESTS_READ, REQUESTS_WRITE
from apps.intake.models import AccountRequest
from apps.intake.services import request_create
from apps.kernel import clock, deadletters
from apps.kernel.deadletters import (
    dead_letter_discard,
    dead_letter_get,
    dead_letter_list,
    dead_letter_record,
    dead_letter_redrive,
)
from apps.kernel.errors import ApplicationError, Conflict, NotFound, RetryableError, WaitForQuota
from apps.kernel.models import DeadLetter, OutboxMessage, ProcessedMessage
from apps.kernel.steps import StepContext
from apps.notifications import api as notifications
from apps.notifications.models import WebhookDelivery
from apps.notifications.services import subscription_create
from apps.workflow.contracts import RunStarted
from apps.workflow.models import Run
from project.celery import app
from tasks import consumers
from tasks.deadletters import redrive
from tasks.subscriptions import EVENT_SUBSCRIBERS
from tests.conftest import EmulatedAws
from tests.support.bus import drain
from tests.support.factories import request_body
from tests.support.faults import inject
from tests.support.webhooks import Receiver, webhook_receiver

pytestmark = pytest.mark.django_db

CLIENT = "00000000-0000-4000-8000-00000000c11e"
SENDER = "bespoke@example.com"
AT = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)
[ON_ACCOUNT_REQUESTED] = EVENT_SUBSCRIBERS["AccountRequested"]
[ON_DEAD_LETTER] = EVENT_SUBSCRIBERS["DeadLetterCreated"]


class Boom(Exception):
    pass


# --- Helpers --------------------------------------------------------------------------


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


@pytest.fixture
def fixed_clock() -> Iterator[datetime]:
    clock.set_source(lambda: AT)
    yield AT
    clock.set_source(None)


@pytest.fixture
def sent_tasks(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, list[Any], str]]:
    """What redriving sends to the broker: (task name, args, queue)."""
    sent: list[tuple[str, list[Any], str]] = []

    def send_task(name: str, *, args: list[Any], queue: str, **options: Any) -> None:
        sent.append((name, args, queue))

    monkeypatch.setattr(app, "send_task", send_task)
    return sent


@pytest.fixture
def quotas_out_of_the_way(settings: Any) -> None:
    settings.ORGANIZATIONS_CREATE_ACCOUNT_BURST = 100
    settings.ORGANIZATIONS_STATUS_POLL_BURST = 100


@pytest.fixture
def started(demo_payer: accounts.PayerSummary, quotas_out_of_the_way: None) -> tuple[str, dict[str, Any]]:
    """A request whose run started: its id and the ``RunStep`` for ``create_account``."""
    request_id = request_create(client_id=CLIENT, data=request_body()).id
    [requested] = outbox("AccountRequested")
    consumers.handle_event(ON_ACCOUNT_REQUESTED, requested)
    [command] = outbox("RunStep")
    assert command["payload"]["step"] == "create_account"
    return request_id, command


SentMail = Callable[[], list[Any]]


@pytest.fixture
def sent_mail(aws: EmulatedAws, settings: Any) -> SentMail:
    """Mail goes through the SES backend to the emulated SES; the messages it received."""
    settings.MAILERS = {"default": {"BACKEND": "apps.notifications.email.SesEmailBackend"}}
    settings.NOTIFICATIONS_FROM_EMAIL = SENDER
    settings.BESPOKE_PUBLIC_URL = "https://bespoke.example.com/"
    assert notifications.sender_verify() == SENDER
    backend = ses_backends[DEFAULT_ACCOUNT_ID][settings.AWS_DEFAULT_REGION]
    return lambda: list(backend.sent_messages)


def operator_mails(sent_mail: SentMail) -> list[Any]:
    return [mail for mail in sent_mail() if "Dead letter" in mail.subject]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as state:
        yield state


@pytest.fixture
def operator(make_api_client: Callable[..., APIClient]) -> APIClient:
    return make_api_client("operations:admin", all_payers=True)


# --- Giving up: the Celery tasks ---------------------------------------------------------


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


# --- Redrive and discard: the service ------------------------------------------------------


def test_redriving_a_handlers_letter_sends_it_to_that_handler_again(
    monkeypatch: pytest.MonkeyPatch,
    demo_payer: accounts.PayerSummary,
    sent_tasks: list[tuple[str, list[Any], str]],
    fixed_clock: datetime,
) -> None:
    request_id = request_create(client_id=CLIENT, data=request_body()).id
    letter = letter_for_crashed_event(monkeypatch, request_id)

    redriven = dead_letter_redrive(dead_letter_id=letter.id, by="ops:alice")

    assert sent_tasks == [("intake.on_run_started", [letter.envelope], "q.intake")]
    assert (redriven.state, redriven.resolved_by, redriven.resolved_at) == ("redriven", "ops:alice", fixed_clock)
    assert redriven.resolution == "sent to intake.on_run_started again"
    stored = DeadLetter.objects.get(id=letter.id)
    assert (stored.state, stored.resolved_by, stored.resolved_at) == ("redriven", "ops:alice", fixed_clock)

    monkeypatch.undo()  # the bug is fixed; the worker receives what was sent
    [(name, args, _)] = sent_tasks
    deliver(name, *args)

    assert AccountRequest.objects.get(id=request_id).status == "provisioning"
    assert DeadLetter.objects.count() == 1


def test_a_letter_is_redriven_once(sent_tasks: list[tuple[str, list[Any], str]]) -> None:
    letter_id = plain_letter()
    dead_letter_redrive(dead_letter_id=letter_id, by="ops")

    with pytest.raises(Conflict) as again:
        dead_letter_redrive(dead_letter_id=letter_id, by="ops")

    assert again.value.extra == {"state": "redriven"}
    assert len(sent_tasks) == 1


def test_redriving_needs_a_known_letter_and_handler(sent_tasks: list[tuple[str, list[Any], str]]) -> None:
    with pytest.raises(NotFound):
        dead_letter_redrive(dead_letter_id="no-such-letter", by="ops")

    gone = plain_letter(handler="audit.on_run_started")
    with pytest.raises(Conflict, match=r"No handler named audit\.on_run_started"):
        dead_letter_redrive(dead_letter_id=gone, by="ops")

    assert dead_letter_get(dead_letter_id=gone).state == "open"  # left for an operator to discard
    assert sent_tasks == []


def test_a_step_letter_whose_request_is_not_failed_is_not_redriven(
    started: tuple[str, dict[str, Any]], sent_tasks: list[tuple[str, list[Any], str]]
) -> None:
    _, command = started  # the request is still being provisioned
    letter_id = plain_letter(handler="accounts.run_step", envelope=command)

    with pytest.raises(Conflict, match="Only a failed or cancelled request"):
        dead_letter_redrive(dead_letter_id=letter_id, by="ops")

    assert dead_letter_get(dead_letter_id=letter_id).state == "open"
    assert sent_tasks == []


def test_redriving_needs_a_redriver() -> None:
    letter_id = plain_letter()
    deadletters.set_redriver(None)
    try:
        with pytest.raises(ApplicationError) as unavailable:
            dead_letter_redrive(dead_letter_id=letter_id, by="ops")
    finally:
        deadletters.set_redriver(redrive)

    assert unavailable.value.code == "redrive_unavailable"
    assert dead_letter_get(dead_letter_id=letter_id).state == "open"


def test_discarding_needs_a_reason_and_records_it(fixed_clock: datetime) -> None:
    letter_id = plain_letter()

    for blank in ("", "   "):
        with pytest.raises(ApplicationError) as refused:
            dead_letter_discard(dead_letter_id=letter_id, reason=blank, by="ops")
        assert refused.value.code == "reason_required"
    assert dead_letter_get(dead_letter_id=letter_id).state == "open"

    discarded = dead_letter_discard(dead_letter_id=letter_id, reason="  request withdrawn ", by="ops:bob")

    assert (discarded.state, discarded.resolution) == ("discarded", "request withdrawn")
    assert (discarded.resolved_by, discarded.resolved_at) == ("ops:bob", fixed_clock)
    with pytest.raises(Conflict):
        dead_letter_discard(dead_letter_id=letter_id, reason="again", by="ops")
    with pytest.raises(Conflict):
        dead_letter_redrive(dead_letter_id=letter_id, by="ops")
    with pytest.raises(NotFound):
        dead_letter_discard(dead_letter_id="no-such-letter", reason="x", by="ops")


def test_the_list_filters_by_state_newest_first() -> None:
    clock.set_source(lambda: datetime(2031, 1, 1, tzinfo=UTC))
    older = plain_letter()
    clock.set_source(lambda: datetime(2031, 1, 2, tzinfo=UTC))
    newer = plain_letter()
    clock.set_source(None)
    dead_letter_discard(dead_letter_id=older, reason="noise", by="ops")

    assert [letter.id for letter in dead_letter_list()[1]] == [newer, older]
    assert dead_letter_list(state="open")[0] == 1
    assert [letter.id for letter in dead_letter_list(state="discarded")[1]] == [older]
    assert [letter.id for letter in dead_letter_list(limit=1, offset=1)[1]] == [older]


# --- Operators are told -----------------------------------------------------------------------


def test_a_dead_letter_webhook_is_delivered_once_however_often_the_event_is_handled(
    make_api_client: Callable[..., APIClient],
) -> None:
    # Dead letters belong to no payer: only operators of every payer hear of them.
    operator = make_api_client(all_payers=True).issued.client_id
    wanted = subscription_create(client_id=operator, url="https://ops.example.com/x", events=["dead_letter.created"])
    everything = subscription_create(client_id=operator, url="https://all.example.com/x")
    other = subscription_create(client_id=operator, url="https://runs.example.com/x", events=["run.failed"])
    tenant = subscription_create(client_id=make_api_client().issued.client_id, url="https://t.example.com/x")  # type: ignore[attr-defined]
    letter_id = plain_letter()
    [created] = outbox("DeadLetterCreated")

    consumers.handle_event(ON_DEAD_LETTER, created)
    consumers.handle_event(ON_DEAD_LETTER, created)
    with transaction.atomic():  # and once more without the inbox
        notifications_handlers().on_dead_letter(consumers._decode(created))  # type: ignore[arg-type]

    [delivery] = WebhookDelivery.objects.filter(subscription_id=wanted.subscription.id)
    assert delivery.event_type == "dead_letter.created"
    assert delivery.payload["id"] == created["message_id"]
    assert delivery.payload["data"] == {
        "dead_letter_id": letter_id,
        "handler": "intake.on_run_started",
        "message_type": "RunStarted",
        "error_code": "Boom",
        "error": "the handler has a bug",
        "attempts": 1,
    }
    assert WebhookDelivery.objects.filter(subscription_id=everything.subscription.id).count() == 1
    assert not WebhookDelivery.objects.filter(subscription_id=other.subscription.id).exists()
    assert not WebhookDelivery.objects.filter(subscription_id=tenant.subscription.id).exists()
    assert len(outbox("DeliverWebhook")) == 2
    assert ProcessedMessage.objects.filter(handler="notifications.on_dead_letter").count() == 1


def notifications_handlers() -> Any:
    from apps.notifications import handlers

    return handlers


def test_operators_get_one_email_per_dead_letter(sent_mail: SentMail, settings: Any) -> None:
    settings.OPERATOR_EMAILS = ["ops@example.com", "oncall@example.com"]
    letter_id = plain_letter()
    [created] = outbox("DeadLetterCreated")

    consumers.handle_event(ON_DEAD_LETTER, created)
    consumers.handle_event(ON_DEAD_LETTER, created)

    [mail] = operator_mails(sent_mail)
    assert mail.source == SENDER
    assert mail.destinations == {"ToAddresses": ["ops@example.com", "oncall@example.com"]}
    assert mail.subject == "[Bespoke] Dead letter: RunStarted → intake.on_run_started"
    assert "gave up after 1 attempt(s)" in mail.body
    assert "Error (Boom): the handler has a bug" in mail.body
    assert f"https://bespoke.example.com/v1/dead-letters/{letter_id}" in mail.body


def test_no_operator_addresses_no_email(sent_mail: SentMail, settings: Any) -> None:
    settings.OPERATOR_EMAILS = []
    plain_letter()
    [created] = outbox("DeadLetterCreated")

    consumers.handle_event(ON_DEAD_LETTER, created)

    assert sent_mail() == []


def test_a_failing_operator_alert_is_parked_without_announcing_itself_again(sent_mail: SentMail, settings: Any) -> None:
    """Otherwise the alert about its own dead letter fails the same way, for ever."""
    settings.OPERATOR_EMAILS = ["ops@example.com"]
    settings.NOTIFICATIONS_FROM_EMAIL = "unverified@example.org"
    plain_letter()
    [created] = outbox("DeadLetterCreated")

    deliver("notifications.on_dead_letter", created)

    parked = DeadLetter.objects.get(message_type="DeadLetterCreated")
    assert (parked.handler, parked.error_code) == ("notifications.on_dead_letter", "MessageRejected")
    assert len(outbox("DeadLetterCreated")) == 1  # no alert about the alert
    assert sent_mail() == []


# --- The API -----------------------------------------------------------------------------------


def test_operators_list_and_filter_dead_letters(operator: APIClient) -> None:
    first = plain_letter()
    second = plain_letter(handler="workflow.on_step_failed", error_code="Busy")
    dead_letter_discard(dead_letter_id=first, reason="noise", by="ops")

    everything = operator.get("/v1/dead-letters")
    still_open = operator.get("/v1/dead-letters", {"state": "open"})
    paged = operator.get("/v1/dead-letters", {"limit": 1, "offset": 0})

    assert everything.status_code == 200
    assert everything.json()["count"] == 2
    assert {letter["id"] for letter in everything.json()["results"]} == {first, second}
    [only] = still_open.json()["results"]
    assert (still_open.json()["count"], only["id"], only["error_code"]) == (1, second, "Busy")
    assert (paged.json()["count"], len(paged.json()["results"])) == (2, 1)
    assert operator.get("/v1/dead-letters", {"state": "lost"}).status_code == 400
    assert operator.get("/v1/dead-letters", {"limit": 0}).status_code == 400


def test_operators_see_a_dead_letter_in_full(operator: APIClient) -> None:
    letter_id = plain_letter()

    answer = operator.get(f"/v1/dead-letters/{letter_id}")

    assert answer.status_code == 200
    body = answer.json()
    letter = DeadLetter.objects.get(id=letter_id)
    assert body["id"] == letter_id
    assert body["envelope"] == letter.envelope
    assert body["history"] == letter.history
    assert (body["handler"], body["message_type"], body["error_code"]) == (
        "intake.on_run_started",
        "RunStarted",
        "Boom",
    )
    assert (body["state"], body["resolved_at"], body["attempts"]) == ("open", None, 1)
    assert datetime.fromisoformat(body["created_at"]) == letter.created_at
    missing = operator.get("/v1/dead-letters/no-such-letter")
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"


def test_operators_redrive_one_dead_letter(operator: APIClient, sent_tasks: list[tuple[str, list[Any], str]]) -> None:
    letter_id = plain_letter()

    answer = operator.post(f"/v1/dead-letters/{letter_id}/redrive")

    assert answer.status_code == 202
    assert answer.json()["state"] == "redriven"
    assert answer.json()["resolved_by"].startswith("api:client-")
    assert len(sent_tasks) == 1
    again = operator.post(f"/v1/dead-letters/{letter_id}/redrive")
    assert again.status_code == 409
    assert again.json()["extra"] == {"state": "redriven"}
    assert operator.post("/v1/dead-letters/no-such-letter/redrive").status_code == 404
    assert len(sent_tasks) == 1


def test_operators_redrive_many_and_hear_what_happened_to_each(
    operator: APIClient, sent_tasks: list[tuple[str, list[Any], str]]
) -> None:
    first, second, discarded = plain_letter(), plain_letter(), plain_letter()
    dead_letter_discard(dead_letter_id=discarded, reason="noise", by="ops")

    answer = operator.post(
        "/v1/dead-letters/redrive", {"ids": [first, discarded, "no-such-letter", second, first]}, format="json"
    )

    assert answer.status_code == 207
    results = {result["id"]: result for result in answer.json()["results"]}
    assert len(answer.json()["results"]) == 4  # each id once
    assert results[first]["redriven"] is results[second]["redriven"] is True
    assert results[first]["resolution"] == "sent to intake.on_run_started again"
    assert (results[discarded]["redriven"], results[discarded]["code"]) == (False, "conflict")
    assert (results["no-such-letter"]["redriven"], results["no-such-letter"]["code"]) == (False, "not_found")
    assert len(sent_tasks) == 2
    assert DeadLetter.objects.get(id=second).state == "redriven"
    for bad in ({"ids": []}, {}, {"ids": "x"}):
        assert operator.post("/v1/dead-letters/redrive", bad, format="json").status_code == 400


def test_operators_discard_with_a_reason(operator: APIClient) -> None:
    letter_id = plain_letter()

    for body in ({}, {"reason": ""}, {"reason": "   "}):
        refused = operator.post(f"/v1/dead-letters/{letter_id}/discard", body, format="json")
        assert refused.status_code == 400, body
    assert DeadLetter.objects.get(id=letter_id).state == "open"

    answer = operator.post(f"/v1/dead-letters/{letter_id}/discard", {"reason": "duplicate of RITM7"}, format="json")

    assert answer.status_code == 200
    assert (answer.json()["state"], answer.json()["resolution"]) == ("discarded", "duplicate of RITM7")
    assert answer.json()["resolved_at"] is not None
    assert operator.post(f"/v1/dead-letters/{letter_id}/discard", {"reason": "x"}, format="json").status_code == 409
    assert operator.post("/v1/dead-letters/nope/discard", {"reason": "x"}, format="json").status_code == 404


def test_dead_letters_are_for_operators_only(make_api_client: Callable[..., APIClient]) -> None:
    letter_id = plain_letter()
    client = make_api_client(REQUESTS_READ, REQUESTS_WRITE)
    anonymous = APIClient()

    for caller, expected in ((client, 403), (anonymous, 401)):
        assert caller.get("/v1/dead-letters").status_code == expected
        assert caller.get(f"/v1/dead-letters/{letter_id}").status_code == expected
        assert caller.post(f"/v1/dead-letters/{letter_id}/redrive").status_code == expected
        assert caller.post("/v1/dead-letters/redrive", {"ids": [letter_id]}, format="json").status_code == expected
        assert caller.post(f"/v1/dead-letters/{letter_id}/discard", {"reason": "x"}).status_code == expected
    assert DeadLetter.objects.get(id=letter_id).state == "open"


# --- The management command and the admin ---------------------------------------------------


def command(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("dead_letters", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_the_command_lists_redrives_and_discards(sent_tasks: list[tuple[str, list[Any], str]]) -> None:
    first, second, third = plain_letter(), plain_letter(error_code="Busy"), plain_letter()

    listed, _ = command("list")
    assert all(letter_id in listed for letter_id in (first, second, third))
    assert "3 open dead letter(s)" in listed
    assert "Busy: the handler has a bug" in listed

    redriven, _ = command("redrive", first)
    assert f"{first}: sent to intake.on_run_started again" in redriven

    discarded, _ = command("discard", second, "--reason", "known outage")
    assert f"{second}: discarded" in discarded
    assert DeadLetter.objects.get(id=second).resolution == "known outage"
    assert DeadLetter.objects.get(id=second).resolved_by == "manage.py dead_letters"

    everything, _ = command("redrive", "--all")
    assert f"{third}: sent" in everything
    assert len(sent_tasks) == 2
    assert "0 open dead letter(s)" in command("list")[0]
    assert "1 discarded dead letter(s)" in command("list", "--state", "discarded")[0]


def test_the_command_says_what_it_could_not_do(sent_tasks: list[tuple[str, list[Any], str]]) -> None:
    letter_id = plain_letter()

    with pytest.raises(CommandError, match="Name dead letters"):
        command("redrive")
    with pytest.raises(CommandError, match="1 of 2 could not be redriven"):
        command("redrive", letter_id, "no-such-letter")
    with pytest.raises(CommandError):
        command("discard", letter_id)  # no --reason
    with pytest.raises(CommandError, match="already redriven"):
        command("discard", letter_id, "--reason", "x")
    assert DeadLetter.objects.get(id=letter_id).state == "redriven"


def test_the_admin_redrives_and_discards_with_a_reason(
    admin_client: Client, sent_tasks: list[tuple[str, list[Any], str]]
) -> None:
    first, second = plain_letter(), plain_letter()
    url = "/admin/kernel/deadletter/"

    assert admin_client.get(url).status_code == 200
    assert admin_client.get(f"{url}{first}/change/").status_code == 200
    redriven = admin_client.post(url, {"action": "redrive", "_selected_action": [first]}, follow=True)
    assert "sent to intake.on_run_started again" in redriven.content.decode()
    assert DeadLetter.objects.get(id=first).state == "redriven"
    assert DeadLetter.objects.get(id=first).resolved_by == "admin:admin"

    form = admin_client.post(url, {"action": "discard", "_selected_action": [second]})
    assert form.status_code == 200
    assert 'name="reason"' in form.content.decode()
    assert DeadLetter.objects.get(id=second).state == "open"  # nothing until a reason is given
    admin_client.post(url, {"action": "discard", "_selected_action": [second], "confirm": "yes", "reason": " "})
    assert DeadLetter.objects.get(id=second).state == "open"

    admin_client.post(
        url, {"action": "discard", "_selected_action": [second], "confirm": "yes", "reason": "test noise"}
    )

    letter = DeadLetter.objects.get(id=second)
    assert (letter.state, letter.resolution, letter.resolved_by) == ("discarded", "test noise", "admin:admin")
    assert len(sent_tasks) == 1


# --- The whole story ---------------------------------------------------------------------------


def test_a_step_failing_for_good_lands_in_dead_letters_and_a_redrive_after_the_fix_completes_the_run(
    api: APIClient,
    demo_payer: accounts.PayerSummary,
    aws: EmulatedAws,
    settings: Any,
    sent_mail: SentMail,
    receiver: Receiver,
    quotas_out_of_the_way: None,
    make_api_client: Callable[..., APIClient],
) -> None:
    settings.OPERATOR_EMAILS = ["ops@example.com"]
    operator = make_api_client(all_payers=True).issued.client_id
    subscription_create(client_id=operator, url=receiver.url, events=["dead_letter.created"])
    accounts_before = len(aws.client("organizations").list_accounts()["Accounts"])
    inject(settings, "organizations:CreateAccount:AccessDenied")
    submitted = api.post("/v1/account-requests", request_body(), format="json")
    assert submitted.status_code == 202
    request_id = submitted.json()["id"]

    drain()

    failed = api.get(f"/v1/account-requests/{request_id}").json()
    assert failed["status"] == "failed"
    assert "create_account" in failed["failure"]
    assert "AccessDenied" in failed["failure"] or "denied" in failed["failure"].lower()
    [letter] = api.get("/v1/dead-letters", {"state": "open"}).json()["results"]
    assert (letter["handler"], letter["message_type"], letter["error_code"]) == (
        "accounts.run_step",
        "RunStep",
        "AccessDenied",
    )
    assert letter["envelope"]["payload"]["step"] == "create_account"
    [alert] = operator_mails(sent_mail)
    assert alert.destinations == {"ToAddresses": ["ops@example.com"]}
    [posted] = receiver.requests
    assert posted.headers["bespoke-event"] == "dead_letter.created"
    assert json.loads(posted.body)["data"]["dead_letter_id"] == letter["id"]
    assert len(aws.client("organizations").list_accounts()["Accounts"]) == accounts_before

    inject(settings, "")  # the operator fixes the permissions
    redriven = api.post(f"/v1/dead-letters/{letter['id']}/redrive")
    assert redriven.status_code == 202
    assert redriven.json()["resolution"] == f"retried request {request_id} from its failed steps"
    drain()

    done = api.get(f"/v1/account-requests/{request_id}").json()
    assert done["status"] == "succeeded"
    assert done["failure"] is None
    assert [(step["name"], step["state"]) for step in done["steps"]] == [
        ("create_account", "succeeded"),
        ("wait_account", "succeeded"),
    ]
    listed = aws.client("organizations").list_accounts()["Accounts"]
    assert len(listed) == accounts_before + 1
    assert (done["account"]["id"], "aws.demo.msfp.dev@example.com") in {(a["Id"], a["Email"]) for a in listed}
    run = Run.objects.get(request_id=request_id)
    assert run.retries == 1
    assert DeadLetter.objects.get(id=letter["id"]).state == "redriven"
    assert DeadLetter.objects.count() == 1  # nothing else gave up
    assert len(operator_mails(sent_mail)) == 1
    assert len(receiver.requests) == 1
    assert [e["payload"]["steps"] for e in outbox("RunResumed")] == [["create_account", "wait_account"]]

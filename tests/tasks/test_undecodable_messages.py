"""Messages that cannot be decoded are kept as dead letters, never dropped: by the Celery
consumers (events and runners) and by the Lambda SQS consumer."""

import base64
from typing import Any

import pytest

from apps.kernel.contracts import RunStep
from apps.kernel.models import DeadLetter
from deploy.lambda_sqs import BatchConsumer, Outcome
from project.celery import app
from tasks import consumers
from tasks.subscriptions import EVENT_SUBSCRIBERS, STEP_RUNNERS

pytestmark = pytest.mark.django_db

[INTAKE_ON_RUN_STARTED] = [s for s in EVENT_SUBSCRIBERS["RunStarted"] if s.name == "intake.on_run_started"]
ARN = "arn:aws:sqs:us-east-1:123456789012:bespoke-dev-q-network"


def test_an_envelope_that_is_not_an_object_is_kept_as_a_dead_letter() -> None:
    consumers.handle_event(INTAKE_ON_RUN_STARTED, "not an envelope")  # type: ignore[arg-type]

    [letter] = DeadLetter.objects.all()
    assert letter.error_code == "undecodable"
    assert letter.envelope == {"undecodable": "not an envelope"}
    assert letter.handler == "intake.on_run_started"


def test_a_runner_keeps_a_command_it_cannot_decode_as_a_dead_letter(monkeypatch: pytest.MonkeyPatch) -> None:
    from apps.accounts import handlers

    calls: list[Any] = []
    monkeypatch.setattr(handlers, "run_step", lambda *args, **kwargs: calls.append(args))
    envelope = {**RunStep(run_id="run-1", step="vpc", context="network").to_envelope(), "payload": {"colour": "red"}}

    assert consumers.run_step(STEP_RUNNERS["accounts"], envelope, attempt=1, retry_delay=None) is None

    assert calls == []
    [letter] = DeadLetter.objects.all()
    assert (letter.handler, letter.message_id, letter.message_type) == (
        "accounts.run_step",
        envelope["message_id"],
        "RunStep",
    )
    assert "Malformed RunStep" in letter.error


def test_the_celery_task_settles_an_undecodable_message_into_one_dead_letter() -> None:
    app.tasks["intake.on_run_started"].run({"type": "AccountTeleported"})

    assert DeadLetter.objects.get().error_code == "undecodable"


@pytest.mark.django_db(transaction=True)
def test_an_sqs_record_that_is_not_a_celery_message_is_kept_and_deleted_from_the_queue() -> None:
    body = base64.b64encode(b"{not json").decode()
    record = {"messageId": "m-1", "body": body, "eventSource": "aws:sqs", "eventSourceARN": ARN, "attributes": {}}
    consumer = BatchConsumer(app, import_task_modules=False)

    report = consumer.run({"Records": [record]})

    assert report.outcomes == {"m-1": Outcome.DEAD_LETTERED}
    assert report.response() == {"batchItemFailures": []}
    [letter] = DeadLetter.objects.all()
    assert letter.handler == "sqs:bespoke-dev-q-network"
    assert letter.envelope["body"] == body
    assert letter.error_code == "undecodable"

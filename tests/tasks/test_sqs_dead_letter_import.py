"""Messages SQS moved to a dead-letter queue (on Lambda) are imported into Bespoke's dead
letters, so the admin's redrive covers them."""

import base64
import json
from typing import Any

import pytest

from apps.kernel.deadletters import dead_letter_redrive
from apps.kernel.models import DeadLetter
from apps.workflow.contracts import RunFailed
from project.celery import app
from tasks.periodic import JOBS
from tasks.sqs_dead_letters import import_dead_letter_queues
from tests.conftest import EmulatedAws

pytestmark = pytest.mark.django_db


def kombu_body(task: str, envelope: dict[str, Any]) -> str:
    """An SQS body as kombu's SQS transport writes a Celery message."""
    payload = base64.b64encode(json.dumps([[envelope], {}, {}]).encode()).decode()
    message = {
        "body": payload,
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": {"task": task, "id": "0b8a1f4e-9a43-4c1e-9a1a-3a5d1b2c3d4e", "retries": 0},
        "properties": {"body_encoding": "base64"},
    }
    return base64.b64encode(json.dumps(message).encode()).decode()


def test_dead_letter_queue_messages_become_dead_letters_and_leave_the_queue(
    aws: EmulatedAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName="bespoke-q-network-dlq")["QueueUrl"]
    event = RunFailed(run_id="run-1", request_id="request-1", step="vpc", error_code="X", message="m")
    sqs.send_message(QueueUrl=url, MessageBody=kombu_body("network.on_run_failed", event.to_envelope()))
    sqs.send_message(QueueUrl=url, MessageBody="not a celery message")

    assert import_dead_letter_queues(client=sqs) == 2

    letters = {letter.handler: letter for letter in DeadLetter.objects.all()}
    assert set(letters) == {"network.on_run_failed", "sqs:bespoke-q-network-dlq"}
    celery = letters["network.on_run_failed"]
    assert (celery.envelope, celery.error_code, celery.message_id) == (
        event.to_envelope(),
        "sqs_receive_limit",
        event.message_id,
    )
    assert letters["sqs:bespoke-q-network-dlq"].envelope["body"] == "not a celery message"
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []

    sent: list[tuple[str, Any]] = []
    monkeypatch.setattr(app, "send_task", lambda name, *, args, queue, **_: sent.append((name, args)))
    dead_letter_redrive(dead_letter_id=celery.id, by="operator")
    assert sent == [("network.on_run_failed", [event.to_envelope()])]


def test_a_message_imported_twice_is_recorded_once(aws: EmulatedAws) -> None:
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName="bespoke-q-workflow-dlq")["QueueUrl"]
    event = RunFailed(run_id="run-1", request_id="request-1", step="vpc", error_code="X", message="m")
    body = kombu_body("network.on_run_failed", event.to_envelope())
    sqs.send_message(QueueUrl=url, MessageBody=body)
    import_dead_letter_queues(client=sqs)
    sqs.send_message(QueueUrl=url, MessageBody=body)  # the job died before deleting it

    import_dead_letter_queues(client=sqs)

    assert DeadLetter.objects.count() == 1


def test_outside_the_serverless_mode_the_job_does_nothing() -> None:
    [job] = [job for job in JOBS if job.name == "sqs.import_dead_letters"]
    assert job.function() == 0

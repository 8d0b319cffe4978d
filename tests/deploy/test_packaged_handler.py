"""The built dev package, in a clean ``python3.12 -I`` with only Lambda's environment,
answers API Gateway (REST v1 and HTTP API v2) events, runs the scheduled sweeper, and
runs an SQS batch of real Celery messages — reporting exactly the records that must come
again."""

import base64
import json
import time
from datetime import timedelta
from typing import Any

import pytest

from apps.kernel import clock, ids
from apps.kernel.models import DeadLetter, OutboxMessage, ProcessedMessage
from apps.workflow.contracts import RunFailed
from tasks.subscriptions import subscribers_for
from tests.deploy import harness
from tests.deploy.conftest import Footing
from tests.support.factories import request_body

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.services]


def task_id_of(record: dict[str, Any]) -> str:
    envelope = json.loads(base64.b64decode(record["body"]))
    return str(envelope["headers"]["id"])


def test_api_gateway_events(
    footing: Footing, dev_function: harness.LambdaProcess, demo_payer: Any, bearer: Any
) -> None:
    for event in (harness.rest_event, harness.http_api_event):
        health = dev_function.invoke(event("GET", "/healthz"))
        assert health["statusCode"] == 200, health
        assert json.loads(health["body"]) == {"status": "ok"}
    headers = bearer()
    rest = dev_function.invoke(harness.rest_event("POST", "/v1/account-requests", body=request_body(), headers=headers))
    assert rest["statusCode"] == 202, rest
    body = request_body(tags__project_short_name="other")
    http_api = dev_function.invoke(harness.http_api_event("POST", "/v1/account-requests", body=body, headers=headers))
    assert http_api["statusCode"] == 202, http_api
    assert json.loads(rest["body"])["id"] != json.loads(http_api["body"])["id"]
    # Each request's AccountRequested was relayed after commit through kombu's SQS transport.
    assert footing.queues.counts("q.workflow")[0] == 2
    print(f"cold start of the dev package (new process, import): {dev_function.cold_start_seconds * 1000:.0f} ms")


def test_scheduled_event_runs_the_outbox_sweeper(footing: Footing, dev_function: harness.LambdaProcess) -> None:
    envelope = RunFailed(
        run_id=ids.new_id(), request_id=ids.new_id(), step="vpc", error_code="test", message="left behind"
    ).to_envelope()
    OutboxMessage.objects.create(
        message_id=envelope["message_id"],
        sequence=time.time_ns(),
        type="RunFailed",
        aggregate_id=envelope["payload"]["run_id"],
        envelope=envelope,
        recorded_at=clock.now() - timedelta(minutes=5),
    )

    sent = dev_function.invoke(harness.scheduled_event("bespoke-dev", "deploy.schedules.sweep_outbox"))

    assert sent == 1
    assert OutboxMessage.objects.get(message_id=envelope["message_id"]).published_at is not None
    expected: dict[str, int] = {}
    for subscriber in subscribers_for(envelope):
        expected[subscriber.queue] = expected.get(subscriber.queue, 0) + 1
    assert {queue: footing.queues.counts(queue)[0] for queue in expected} == expected


def test_sqs_batch_of_celery_messages(footing: Footing, dev_function: harness.LambdaProcess) -> None:
    events = [
        RunFailed(run_id=ids.new_id(), request_id=ids.new_id(), step="vpc", error_code="e", message="m").to_envelope()
        for _ in range(3)
    ]
    produced = footing.produce(
        [
            {"task": "network.on_run_failed", "args": [events[0]]},
            {"task": "network.on_run_failed", "args": [events[1]]},
            # A message its task refuses (no envelope): the task fails.
            {"task": "network.on_run_failed", "args": [], "send_task": True},
            # Due in ten minutes: published again with an SQS delay, not run now.
            {"task": "network.on_run_failed", "args": [events[2]], "countdown": 600},
        ]
    )
    queue = footing.queues
    garbage = queue.sqs.send_message(QueueUrl=queue.url("q.network"), MessageBody="not a Celery message")["MessageId"]
    mapping = harness.EventSourceMapping(queue, {"q.network": dev_function.invoke})
    records = mapping.receive("q.network")
    assert len(records) == 5
    failing = next(r["messageId"] for r in records if r["messageId"] != garbage and task_id_of(r) == produced[2])

    batch = mapping.deliver("q.network", records)

    assert batch.failures == {failing}, dev_function.output()
    [kept] = DeadLetter.objects.filter(handler="sqs:bespoke-dev-q-network")  # the garbage, kept and deleted
    assert (kept.error_code, kept.envelope["body"]) == ("undecodable", "not a Celery message")
    handled = ProcessedMessage.objects.filter(handler="network.on_run_failed")
    assert sorted(handled.values_list("message_id", flat=True)) == sorted(e["message_id"] for e in events[:2])
    visible, in_flight, delayed = queue.counts("q.network")
    assert (visible, in_flight, delayed) == (0, 1, 1)  # the failure waits to come again; the deferred one

    # SQS delivers at least once: the records that ran, delivered again, change nothing.
    ran = [r for r in records if r["messageId"] != garbage and task_id_of(r) in produced[:2]]
    assert dev_function.invoke({"Records": ran}) == {"batchItemFailures": []}
    assert handled.count() == 2
    assert ProcessedMessage.objects.filter(handler__startswith="sqs:network.on_run_failed").count() == 2
    assert queue.counts("q.network") == (0, 1, 1)

"""The SQS consumer's decisions, without a package: what is undecodable, what is deferred
and for how long, what is left for the next invocation."""

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from deploy.lambda_sqs import (
    MAX_DELAY_SECONDS,
    BatchConsumer,
    Outcome,
    Undecodable,
    add_sqs_delay,
    decode_record,
    is_sqs_batch,
)
from project.celery import app

ARN = "arn:aws:sqs:us-east-1:123456789012:bespoke-dev-q-network"


def record(body: str, message_id: str = "m-1") -> dict[str, Any]:
    return {"messageId": message_id, "body": body, "eventSource": "aws:sqs", "eventSourceARN": ARN, "attributes": {}}


def celery_body(*, task: str = "network.on_run_failed", args: list[Any] | None = None, **headers: Any) -> str:
    """An SQS body as kombu's SQS transport writes it (base64 of the JSON envelope)."""
    payload = base64.b64encode(json.dumps([args or [{}], {}, {}]).encode()).decode()
    envelope = {
        "body": payload,
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": {"task": task, "id": "0b8a1f4e-9a43-4c1e-9a1a-3a5d1b2c3d4e", "retries": 0, **headers},
        "properties": {"body_encoding": "base64", "delivery_info": {"exchange": "", "routing_key": "q.network"}},
    }
    return base64.b64encode(json.dumps(envelope).encode()).decode()


def test_decodes_a_kombu_message() -> None:
    message = decode_record(record(celery_body(eta="2030-01-01T00:00:00+00:00")))
    assert (message.task_name, message.args, message.retries) == ("network.on_run_failed", [{}], 0)
    assert message.eta == datetime(2030, 1, 1, tzinfo=UTC)
    assert message.queue_name == "bespoke-dev-q-network"


@pytest.mark.parametrize(
    "body",
    [
        "not a Celery message",
        base64.b64encode(b"[1, 2]").decode(),
        json.dumps({"body": "", "headers": {}, "properties": {}}),
        json.dumps(
            {"body": "gAN9cQAu", "content-type": "application/x-python-serialize", "headers": {"task": "t", "id": "i"}}
        ),
    ],
    ids=["text", "not-an-object", "no-task", "pickle"],
)
def test_refuses_what_is_not_a_json_celery_message(body: str) -> None:
    with pytest.raises(Undecodable):
        decode_record(record(body))


def test_only_sqs_batches_go_to_the_consumer() -> None:
    assert is_sqs_batch({"Records": [record("x")]})
    assert not is_sqs_batch({"Records": [{"eventSource": "aws:sns"}]})
    assert not is_sqs_batch({"httpMethod": "GET"})


def test_a_future_eta_gets_an_sqs_delay_when_published() -> None:
    properties: dict[str, Any] = {}
    add_sqs_delay(headers={"eta": (datetime.now(UTC) + timedelta(seconds=120)).isoformat()}, properties=properties)
    assert 119 <= properties["DelaySeconds"] <= 120
    add_sqs_delay(headers={"eta": (datetime.now(UTC) + timedelta(hours=2)).isoformat()}, properties=properties)
    assert properties["DelaySeconds"] == MAX_DELAY_SECONDS
    untouched: dict[str, Any] = {}
    add_sqs_delay(headers={"eta": None}, properties=untouched)
    assert untouched == {}


class Published:
    def __init__(self) -> None:
        self.delays: list[int] = []

    def publish(self, message: Any, *, delay_seconds: int, record: Any) -> None:
        self.delays.append(delay_seconds)


def test_a_message_due_later_is_deferred_not_run(transactional_db: None) -> None:
    published = Published()
    consumer = BatchConsumer(app, republisher=published, import_task_modules=False)  # type: ignore[arg-type]
    eta = datetime.now(UTC) + timedelta(seconds=3600)
    report = consumer.run({"Records": [record(celery_body(eta=eta.isoformat()))]})
    assert report.outcomes == {"m-1": Outcome.DEFERRED}
    assert published.delays == [MAX_DELAY_SECONDS]
    assert report.response() == {"batchItemFailures": []}


class Expiring:
    def get_remaining_time_in_millis(self) -> int:
        return 1_000


def test_records_not_started_in_time_come_back() -> None:
    consumer = BatchConsumer(app, import_task_modules=False)
    report = consumer.run({"Records": [record("x", "a"), record("y", "b")]}, Expiring())
    assert report.response() == {"batchItemFailures": [{"itemIdentifier": "a"}, {"itemIdentifier": "b"}]}


def test_records_from_other_queues_are_refused() -> None:
    consumer = BatchConsumer(app, queues=frozenset({"bespoke-dev-q-workflow"}), import_task_modules=False)
    assert consumer.run({"Records": [record(celery_body())]}).outcomes == {"m-1": Outcome.FOREIGN}

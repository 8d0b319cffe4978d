"""The Lambda consumer's delivery inbox: a Celery task id and attempt that ran to an end is
not run again when SQS delivers it again, in a later batch or the same one; a batch reads
and writes the inbox once; what failed or was deferred is not remembered."""

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext

from apps.kernel import ids, inbox
from apps.kernel.models import ProcessedMessage
from apps.network import handlers
from apps.workflow.contracts import RunFailed
from deploy.lambda_sqs import BatchConsumer, Outcome
from project.celery import app

pytestmark = pytest.mark.django_db(transaction=True)

ARN = "arn:aws:sqs:us-east-1:123456789012:bespoke-dev-q-network"
TASK = "network.on_run_failed"


def run_failed() -> dict[str, Any]:
    return RunFailed(
        run_id=ids.new_id(), request_id=ids.new_id(), step="vpc", error_code="e", message="m"
    ).to_envelope()


def sqs_body(*, args: list[Any], task_id: str | None = None, eta: datetime | None = None) -> str:
    """An SQS body as kombu's SQS transport writes it."""
    headers, properties, body, _ = app.amqp.as_task_v2(task_id or ids.new_id(), TASK, args=args, eta=eta)
    message = {
        "body": base64.b64encode(json.dumps(body).encode()).decode(),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": headers,
        "properties": {**properties, "body_encoding": "base64", "delivery_info": {"routing_key": "q.network"}},
    }
    return base64.b64encode(json.dumps(message).encode()).decode()


def record(body: str, record_id: str, receive_count: int = 1) -> dict[str, Any]:
    return {
        "messageId": record_id,
        "body": body,
        "eventSource": "aws:sqs",
        "eventSourceARN": ARN,
        "attributes": {"ApproximateReceiveCount": str(receive_count)},
    }


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The request ids the task's handler was called with."""
    called: list[str] = []
    handle = handlers.on_run_failed

    def counting(event: Any) -> None:
        called.append(event.request_id)
        handle(event)

    monkeypatch.setattr(handlers, "on_run_failed", counting)
    return called


@pytest.fixture
def consumer() -> BatchConsumer:
    return BatchConsumer(app, import_task_modules=False)


def test_a_delivery_that_ran_is_not_run_again_in_a_later_batch(consumer: BatchConsumer, runs: list[str]) -> None:
    body = sqs_body(args=[run_failed()])

    first = consumer.run({"Records": [record(body, "r-1")]})
    again = consumer.run({"Records": [record(body, "r-2", receive_count=2)]})

    assert first.outcomes == {"r-1": Outcome.SUCCEEDED}
    assert again.outcomes == {"r-2": Outcome.DUPLICATE}
    assert again.response() == {"batchItemFailures": []}
    assert len(runs) == 1
    assert ProcessedMessage.objects.filter(handler=f"sqs:{TASK}#0").count() == 1


def test_the_same_delivery_twice_in_one_batch_runs_once(consumer: BatchConsumer, runs: list[str]) -> None:
    body = sqs_body(args=[run_failed()])

    report = consumer.run({"Records": [record(body, "r-1"), record(body, "r-2")]})

    assert report.outcomes == {"r-1": Outcome.SUCCEEDED, "r-2": Outcome.DUPLICATE}
    assert len(runs) == 1


def test_a_batch_reads_the_delivery_inbox_once_and_writes_it_once(consumer: BatchConsumer, runs: list[str]) -> None:
    done = sqs_body(args=[run_failed()])
    consumer.run({"Records": [record(done, "r-0")]})
    bodies = [sqs_body(args=[run_failed()]) for _ in range(3)]

    with CaptureQueriesContext(connection) as queries:
        report = consumer.run(
            {"Records": [record(done, "r-1")] + [record(b, f"r-{n + 2}") for n, b in enumerate(bodies)]}
        )

    assert list(report.outcomes.values()) == [Outcome.DUPLICATE] + [Outcome.SUCCEEDED] * 3
    delivery_inbox = [q["sql"] for q in queries.captured_queries if f"sqs:{TASK}#0" in q["sql"]]
    assert len(delivery_inbox) == 2, delivery_inbox  # one read, one write
    assert ProcessedMessage.objects.filter(handler=f"sqs:{TASK}#0").count() == 4


def test_a_failed_delivery_is_not_remembered_and_runs_again(consumer: BatchConsumer) -> None:
    refused = sqs_body(args=[])  # the task needs an envelope: it fails

    first = consumer.run({"Records": [record(refused, "r-1")]})
    again = consumer.run({"Records": [record(refused, "r-2", receive_count=2)]})

    assert first.outcomes == {"r-1": Outcome.FAILED}
    assert again.outcomes == {"r-2": Outcome.FAILED}
    assert again.response() == {"batchItemFailures": [{"itemIdentifier": "r-2"}]}
    assert not ProcessedMessage.objects.filter(handler__startswith="sqs:").exists()


class Published:
    def publish(self, message: Any, *, delay_seconds: int, record: Any) -> None:
        pass


def test_a_deferred_delivery_is_not_remembered_and_runs_when_it_is_due(runs: list[str]) -> None:
    due = datetime.now(UTC) + timedelta(hours=1)
    body = sqs_body(args=[run_failed()], eta=due)
    early = BatchConsumer(app, republisher=Published(), import_task_modules=False)  # type: ignore[arg-type]
    on_time = BatchConsumer(app, clock=lambda: due.timestamp(), import_task_modules=False)

    assert early.run({"Records": [record(body, "r-1")]}).outcomes == {"r-1": Outcome.DEFERRED}
    assert on_time.run({"Records": [record(body, "r-2")]}).outcomes == {"r-2": Outcome.SUCCEEDED}
    assert len(runs) == 1


def test_what_ran_keeps_its_outcome_when_the_delivery_inbox_cannot_be_written(
    consumer: BatchConsumer, runs: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable(keys: Any) -> None:
        raise DatabaseError("the database went away")

    monkeypatch.setattr(inbox, "mark_processed", unavailable)
    body = sqs_body(args=[run_failed()])

    report = consumer.run({"Records": [record(body, "r-1")]})

    assert report.response() == {"batchItemFailures": []}  # its effect is committed
    assert len(runs) == 1

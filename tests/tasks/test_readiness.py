"""/readyz says which workers answer and which queues they consume, in every mode."""

from typing import Any

import pytest
from django.test import Client

from tasks.embedded import worker_threads
from tasks.fleet import workers_report
from tasks.subscriptions import all_queues

pytestmark = pytest.mark.django_db


@pytest.mark.django_db(transaction=True)  # the worker thread closes connections as Celery starts
def test_the_embedded_worker_answers_for_every_queue(settings: Any) -> None:
    with worker_threads(concurrency=1) as worker:
        response = Client().get("/readyz")

    body = response.json()
    assert response.status_code == 200, body
    assert body["checks"] == {"database": "ok", "broker": "ok"}
    workers = body["workers"]
    assert workers["mode"] == "embedded"
    assert workers["status"] == "ok"
    assert workers["workers"] == {worker.hostname: sorted(all_queues())}
    assert workers["queues"]["q.network"] == {"workers": [worker.hostname]}
    assert workers["queues_without_workers"] == []


def test_queues_without_workers_are_named_but_the_web_stays_ready(settings: Any) -> None:
    settings.READYZ_WORKERS_TIMEOUT = 0.2

    response = Client().get("/readyz")

    assert response.status_code == 200  # the API can still take requests; their messages wait
    workers = response.json()["workers"]
    assert workers["status"] == "queues_without_workers"
    assert workers["workers"] == {}
    assert workers["queues_without_workers"] == all_queues()


def test_serverless_has_no_celery_workers_to_ask(settings: Any) -> None:
    settings.CELERY_BROKER_URL = "sqs://"

    assert workers_report(timeout=0.1) == {
        "mode": "serverless",
        "status": "not_applicable",
        "detail": "Lambda consumes the SQS queues: there are no Celery workers to ask.",
    }

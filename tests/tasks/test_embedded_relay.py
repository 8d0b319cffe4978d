"""While the embedded mode's worker threads run, the process relays its outbox from one
thread of its own (the worker and API threads only hand on what they commit); when the
workers stop, everything handed on is published and marked before they return. A Celery
pool process relays from a thread too when ``OUTBOX_RELAY_IN_BACKGROUND`` says so, and
hands on what it holds as it stops."""

import signal
import threading
import time
from typing import Any

import pytest
from celery.signals import worker_process_init, worker_process_shutdown

from apps.intake.services import request_create
from apps.kernel import outbox
from apps.kernel.models import OutboxMessage
from project.celery import app as celery_app
from tasks import embedded
from tasks.embedded import worker_threads
from tests.support.factories import request_body

pytestmark = pytest.mark.django_db(transaction=True)  # the worker thread closes connections as Celery starts


def test_worker_threads_relay_from_one_thread_and_hand_everything_on_before_they_stop(
    payer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[tuple[str, str]] = []

    def send_task(name: str, args: Any = None, **options: Any) -> None:
        sent.append((args[0]["message_id"], threading.current_thread().name))

    monkeypatch.setattr(celery_app, "send_task", send_task)
    monkeypatch.setattr(outbox, "MARK_LINGER_SECONDS", 60.0)  # held until the workers stop
    assert not outbox.relaying_in_background()

    with worker_threads(concurrency=1):
        assert outbox.relaying_in_background()
        request_id = request_create(client_id="c", data=request_body()).id
        deadline = time.monotonic() + 30
        while not sent:
            assert time.monotonic() < deadline, "not relayed"
            time.sleep(0.01)
        assert OutboxMessage.objects.get(aggregate_id=request_id).published_at is None  # its mark held

    assert not outbox.relaying_in_background()
    assert OutboxMessage.objects.get(aggregate_id=request_id).published_at is not None
    assert {thread for _, thread in sent} == {"outbox-relay"}


@pytest.mark.parametrize("configured", [True, False])
def test_a_celery_pool_process_relays_from_a_thread_as_configured(
    configured: bool, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.OUTBOX_RELAY_IN_BACKGROUND = configured
    flushed: list[float] = []
    monkeypatch.setattr(outbox, "relay_flush", lambda timeout=10.0: flushed.append(timeout) or True)
    sigterm = signal.getsignal(signal.SIGTERM)  # a pool process also ignores SIGTERM: not this one
    try:
        worker_process_init.send(sender=None)
        assert outbox.relaying_in_background() is configured
        worker_process_shutdown.send(sender=None, pid=0, exitcode=0)
        assert flushed == [10]
    finally:
        signal.signal(signal.SIGTERM, sigterm)
        outbox.relay_in_background(False)


def test_workers_that_do_not_start_in_time_are_stopped_and_leave_the_relay_as_it_was(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(embedded._Worker, "on_consumer_ready", lambda self, consumer: None)  # never ready
    threads_before = {thread.name for thread in threading.enumerate()}
    with pytest.raises(RuntimeError, match="did not start"), worker_threads(concurrency=1, startup_timeout=0.5):
        pass  # pragma: no cover - never entered

    assert not outbox.relaying_in_background()
    deadline = time.monotonic() + 30
    while "celery-worker" in {thread.name for thread in threading.enumerate()} - threads_before:
        assert time.monotonic() < deadline, "the worker thread kept running"
        time.sleep(0.05)

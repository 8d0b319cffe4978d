"""The Celery application. Its tasks live in ``tasks/``; routing follows
``tasks/subscriptions.py`` (one queue per bounded context)."""

import os
import signal
from typing import Any

from celery import Celery
from celery.signals import task_prerun, worker_process_init, worker_process_shutdown
from django.conf import settings
from kombu import Queue

from apps.kernel import querylog
from tasks.subscriptions import all_queues, all_subscribers

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.local")

app = Celery("bespoke")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    task_ignore_result=True,
    # A message is acknowledged only after its task finished, and re-delivered if the
    # worker died meanwhile: at-least-once delivery; handlers make the effect once.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_default_queue="q.default",
    task_queues=[Queue(name) for name in all_queues()],
    task_create_missing_queues=True,
    task_routes={subscriber.name: {"queue": subscriber.queue} for subscriber in all_subscribers()},
    broker_connection_retry_on_startup=True,
    broker_connection_timeout=3,
    # Publishing happens after commit; if the broker is down the outbox keeps the message,
    # so give up quickly instead of holding the HTTP response.
    task_publish_retry_policy={"max_retries": 2, "interval_start": 0.1, "interval_step": 0.3, "interval_max": 0.5},
    worker_hijack_root_logger=False,
    imports=["tasks.consumers", "tasks.periodic"],
)


@worker_process_init.connect
def _pool_processes_leave_stopping_to_their_worker(**_: Any) -> None:
    """Process managers (honcho, systemd, supervisord's ``stopasgroup``) send SIGTERM to the
    worker's whole process group. The worker's warm shutdown — take nothing new, finish the
    steps in flight, then close the pool — is the clean stop; a pool process that died of
    the same signal mid-step would abandon its step to a redelivery instead."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


@worker_process_init.connect
def _pool_processes_relay_from_a_thread(**_: Any) -> None:
    """With ``OUTBOX_RELAY_IN_BACKGROUND`` (the services mode) a pool process relays what its
    tasks commit from a thread of its own, as the web processes do: a task returns without
    waiting for the broker, and what it published is marked with others', in one statement
    a fifth of a second (instead of a transaction a message). What a killed process held is
    the sweeper's, as a message whose task died between commit and publish always was."""
    from apps.kernel import outbox  # its models: not before Django is set up, as this module is

    outbox.relay_in_background(bool(getattr(settings, "OUTBOX_RELAY_IN_BACKGROUND", False)))


@worker_process_shutdown.connect
def _pool_processes_hand_on_what_they_hold(**_: Any) -> None:
    from apps.kernel import outbox

    outbox.relay_flush(timeout=10)


@task_prerun.connect
def _each_task_starts_a_new_query_log(**_: Any) -> None:
    """With ``DEBUG`` on (the embedded mode), Django keeps every query of a connection until
    something resets its log — for a request, the request's start. A worker thread's
    connection serves task after task, so each task starts the log anew, as a request does:
    its memory stays that of one task's queries, not the last 9,000 of them."""
    querylog.start_anew()

"""With DEBUG on (the embedded mode) Django logs every query of a connection until its log
is reset, which a request does when it starts; a worker thread's connection serves task
after task, so each task resets it too — its memory stays that of one task's queries."""

import weakref

import pytest
from celery.signals import task_prerun
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from project.celery import _each_task_starts_a_new_query_log, app

pytestmark = pytest.mark.django_db


def task_starts() -> None:
    """What a worker does when a task starts, as far as the query log goes: the receiver
    this project connects to ``task_prerun`` (sending the signal itself would also run
    Celery's own receivers, which close the connection when a worker has run in this
    process: the test's transaction with it)."""
    receivers = [ref() if isinstance(ref, weakref.ReferenceType) else ref for _, ref in task_prerun.receivers]
    assert _each_task_starts_a_new_query_log in receivers
    task = app.tasks["workflow.on_step_succeeded"]
    _each_task_starts_a_new_query_log(sender=task, task_id="t", task=task, args=[], kwargs={})


@override_settings(DEBUG=True)
def test_a_task_starting_resets_the_query_log_of_its_thread() -> None:
    for _ in range(3):
        get_user_model().objects.exists()
    assert len(connection.queries_log) >= 3

    task_starts()

    assert len(connection.queries_log) == 0
    get_user_model().objects.exists()
    assert len(connection.queries_log) == 1


@override_settings(DEBUG=True)
def test_queries_being_captured_are_kept_when_a_task_starts() -> None:
    with CaptureQueriesContext(connection) as captured:
        get_user_model().objects.exists()
        task_starts()
        get_user_model().objects.exists()

    assert len(captured.captured_queries) == 2

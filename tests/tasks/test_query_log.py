"""With DEBUG on (the embedded mode) Django logs every query of a connection until its log
is reset, which a request does when it starts; a worker thread's connection serves task
after task, so each task resets it too — its memory stays that of one task's queries."""

import pytest
from celery.signals import task_prerun
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from project.celery import app

pytestmark = pytest.mark.django_db


@override_settings(DEBUG=True)
def test_a_task_starting_resets_the_query_log_of_its_thread() -> None:
    for _ in range(3):
        get_user_model().objects.exists()
    assert len(connection.queries_log) >= 3

    task = app.tasks["workflow.on_step_succeeded"]
    task_prerun.send(sender=task, task_id="t", task=task, args=[], kwargs={})

    assert len(connection.queries_log) == 0
    get_user_model().objects.exists()
    assert len(connection.queries_log) == 1


@override_settings(DEBUG=True)
def test_queries_being_captured_are_kept_when_a_task_starts() -> None:
    with CaptureQueriesContext(connection) as captured:
        get_user_model().objects.exists()
        task = app.tasks["workflow.on_step_succeeded"]
        task_prerun.send(sender=task, task_id="t", task=task, args=[], kwargs={})
        get_user_model().objects.exists()

    assert len(captured.captured_queries) == 2

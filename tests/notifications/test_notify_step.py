"""The ``notify`` step (the original's ``NOTIFY``): the ready email to the requester and the
technical contact, once, from the outputs of the steps before it; the run's own success
email is then that same email, not a second one."""

from typing import Any

import pytest
from django.db import transaction

from apps.kernel.steps import StepContext
from apps.notifications import handlers, steps
from apps.notifications.models import EmailNotification
from apps.workflow.contracts import RunSucceeded
from apps.workflow.plans import plan_from_blueprint
from tests.notifications.test_outcome_emails import SUCCESS_OUTPUTS, SentMail, request_id, sent_mail

pytestmark = pytest.mark.django_db

__all__ = ["request_id", "sent_mail"]  # fixtures of the outcome emails' tests, used here too


def notify(request_id: str, **outputs: Any) -> dict[str, Any]:
    inputs = {"request_id": request_id, **outputs}
    with transaction.atomic():
        return steps.notify(StepContext(run_id="run-1", step="notify", attempt=1, inputs=inputs))


def test_notify_sends_the_ready_email_once(sent_mail: SentMail, request_id: str) -> None:
    outputs = notify(request_id, **SUCCESS_OUTPUTS)

    [mail] = sent_mail()
    assert outputs == {
        "notified": ["john.doe@example.com", "whitew@example.com"],
        "email_id": EmailNotification.objects.get(request_id=request_id).id,
    }
    assert "Account id:     123456789012" in mail.body
    assert notify(request_id, **SUCCESS_OUTPUTS) == outputs  # again: nothing more sent
    with transaction.atomic():
        handlers.on_run_finished(RunSucceeded(run_id="run-1", request_id=request_id, outputs=SUCCESS_OUTPUTS))
    assert len(sent_mail()) == 1


def test_notify_without_a_request_tells_no_one(sent_mail: SentMail, db: None) -> None:
    assert notify("00000000-0000-4000-8000-000000000000") == {"notified": []}
    assert sent_mail() == []


def test_notify_is_a_blueprint_step_with_the_original_task_name(db: None) -> None:
    plan = plan_from_blueprint([{"name": "iam"}, {"name": "notify", "depends_on": ["iam"]}])

    [step] = [spec for spec in plan if spec.name == "notify"]
    assert (step.legacy_name, step.context, step.depends_on) == ("NOTIFY", "notifications", ("iam",))

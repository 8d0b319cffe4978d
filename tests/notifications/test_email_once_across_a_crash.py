"""An outcome email is sent once even when the process dies between SES accepting it and
recording it: the intent is committed before SES is called, the SES message id after,
and a redelivery checks first. A send SES refused is retried."""

from collections.abc import Callable
from typing import Any

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from apps.accounts import api as accounts
from apps.intake.services import request_create
from apps.kernel.errors import RetryableError
from apps.notifications import api, handlers
from apps.notifications.models import EmailNotification
from apps.notifications.services import emails
from apps.workflow.contracts import RunSucceeded
from tests.conftest import EmulatedAws
from tests.support.factories import request_body
from tests.support.faults import inject

pytestmark = pytest.mark.django_db

CLIENT = "00000000-0000-4000-8000-00000000c11e"
SENDER = "bespoke@example.com"

SentMail = Callable[[], list[Any]]


class Died(BaseException):
    """The process dying: nothing after it runs, no handler catches it."""


@pytest.fixture
def sent_mail(aws: EmulatedAws, settings: Any) -> SentMail:
    settings.MAILERS = {"default": {"BACKEND": "apps.notifications.email.SesEmailBackend"}}
    settings.NOTIFICATIONS_FROM_EMAIL = SENDER
    assert api.sender_verify() == SENDER
    backend = ses_backends[DEFAULT_ACCOUNT_ID][settings.AWS_DEFAULT_REGION]
    return lambda: list(backend.sent_messages)


@pytest.fixture
def succeeded(demo_payer: accounts.PayerSummary) -> RunSucceeded:
    request_id = request_create(client_id=CLIENT, data=request_body()).id
    return RunSucceeded(run_id="run-1", request_id=request_id, outputs={"account_id": "123456789012"})


def test_a_crash_after_ses_accepted_the_email_does_not_send_it_again(
    sent_mail: SentMail, succeeded: RunSucceeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = emails.provider_message_id
    calls = []

    def dies_once(message: Any) -> str:
        calls.append(message)
        if len(calls) == 1:
            raise Died  # SES has the email; its id is never recorded
        return real(message)

    monkeypatch.setattr(emails, "provider_message_id", dies_once)

    with pytest.raises(Died):
        handlers.on_run_finished(succeeded, attempt=1, retry_delay=1.0)
    handlers.on_run_finished(succeeded, attempt=1, retry_delay=1.0)  # the message comes again

    assert len(sent_mail()) == 1
    notification = EmailNotification.objects.get(request_id=succeeded.request_id)
    assert notification.send_started_at is not None
    assert notification.sent_at is None
    assert notification.unconfirmed_at is not None  # for an operator: sent, most likely


def test_the_intent_is_on_record_before_ses_is_called_and_the_message_id_after(
    sent_mail: SentMail, succeeded: RunSucceeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[Any, Any]] = []
    from django.core.mail import EmailMessage

    real_send = EmailMessage.send

    def send(message: EmailMessage, fail_silently: bool = False) -> int:
        row = EmailNotification.objects.get(request_id=succeeded.request_id)
        seen.append((row.send_started_at, row.sent_at))
        return real_send(message, fail_silently)

    monkeypatch.setattr(EmailMessage, "send", send)

    handlers.on_run_finished(succeeded)

    [(started, sent)] = seen
    assert started is not None
    assert sent is None
    [mail] = sent_mail()
    notification = EmailNotification.objects.get(request_id=succeeded.request_id)
    assert notification.message_id == mail.id
    assert notification.sent_at is not None
    assert notification.unconfirmed_at is None


def test_a_send_ses_refused_for_now_is_sent_on_the_retry(
    sent_mail: SentMail, succeeded: RunSucceeded, settings: Any
) -> None:
    inject(settings, "sesv2:SendEmail:TooManyRequestsException")
    with pytest.raises(RetryableError):
        handlers.on_run_finished(succeeded, attempt=1, retry_delay=1.0)
    assert EmailNotification.objects.get(request_id=succeeded.request_id).send_started_at is None

    inject(settings, "")
    handlers.on_run_finished(succeeded, attempt=2, retry_delay=1.0)

    assert len(sent_mail()) == 1
    assert EmailNotification.objects.get(request_id=succeeded.request_id).sent_at is not None

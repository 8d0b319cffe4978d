"""The outcome emails: sent through Django's email API and the SES backend to the emulated
SES, to the requester and the technical contact, once per outcome."""

from collections.abc import Callable
from typing import Any

import pytest
from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.db import transaction
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from apps.accounts import api as accounts
from apps.intake.services import request_create
from apps.kernel.errors import PermanentError
from apps.kernel.models import ProcessedMessage
from apps.notifications import api, handlers
from apps.notifications.email import SesEmailBackend, provider_message_id
from apps.notifications.models import EmailNotification
from apps.workflow.contracts import RunFailed, RunSucceeded
from tasks import consumers
from tasks.subscriptions import EVENT_SUBSCRIBERS
from tests.conftest import EmulatedAws
from tests.support.factories import request_body

pytestmark = pytest.mark.django_db

CLIENT = "00000000-0000-4000-8000-00000000c11e"
SENDER = "bespoke@example.com"
PUBLIC_URL = "https://bespoke.example.com"
SUCCESS_OUTPUTS = {
    "account_id": "123456789012",
    "account_alias": "demo-msfp-dev",
    "vpc_id": "vpc-0abc123",
    "cidr": "10.20.0.0/24",
}
[EMAIL] = {s for s in EVENT_SUBSCRIBERS["RunSucceeded"] if s.name == "notifications.on_run_finished"}

SentMail = Callable[[], list[Any]]


@pytest.fixture
def sent_mail(aws: EmulatedAws, settings: Any) -> SentMail:
    """Mail goes through the SES backend to the emulated SES; the messages it received."""
    settings.MAILERS = {"default": {"BACKEND": "apps.notifications.email.SesEmailBackend"}}
    settings.NOTIFICATIONS_FROM_EMAIL = SENDER
    settings.BESPOKE_PUBLIC_URL = PUBLIC_URL + "/"
    assert api.sender_verify() == SENDER
    backend = ses_backends[DEFAULT_ACCOUNT_ID][settings.AWS_DEFAULT_REGION]
    return lambda: list(backend.sent_messages)


@pytest.fixture
def request_id(demo_payer: accounts.PayerSummary) -> str:
    body = request_body(tags__project_name='Ops "Blue" Team\'s')
    return request_create(client_id=CLIENT, data=body).id


def finished(event: RunSucceeded | RunFailed) -> None:
    with transaction.atomic():  # as the messaging layer calls it
        handlers.on_run_finished(event)


def test_success_email_reaches_requester_and_technical_contact(sent_mail: SentMail, request_id: str) -> None:
    finished(RunSucceeded(run_id="run-1", request_id=request_id, outputs=SUCCESS_OUTPUTS))

    [mail] = sent_mail()
    assert mail.source == SENDER
    assert mail.destinations == {"ToAddresses": ["john.doe@example.com", "whitew@example.com"]}
    assert "123456789012" in mail.subject
    for expected in (
        "Hello John Doe,",
        "Account id:     123456789012",
        "Account alias:  demo-msfp-dev",
        "VPC:            vpc-0abc123",
        "VPC CIDR:       10.20.0.0/24",
        "Account email:  aws.demo.msfp.dev@example.com",
        'Project:        Ops "Blue" Team\'s',
        f"{PUBLIC_URL}/v1/account-requests/{request_id}",
    ):
        assert expected in mail.body
    notification = EmailNotification.objects.get(request_id=request_id)
    assert (notification.outcome, notification.message_id, notification.subject) == ("succeeded", mail.id, mail.subject)
    assert notification.recipients == ["john.doe@example.com", "whitew@example.com"]
    assert notification.sent_at is not None


def test_failure_email_names_the_step_and_the_reason(sent_mail: SentMail, request_id: str) -> None:
    finished(
        RunFailed(
            run_id="run-1",
            request_id=request_id,
            step="vpc",
            error_code="PoolExhausted",
            message='No "/24" left in pool "us-east-1"',
        )
    )

    [mail] = sent_mail()
    assert mail.destinations == {"ToAddresses": ["john.doe@example.com", "whitew@example.com"]}
    assert "failed" in mail.subject
    assert "vpc" in mail.subject
    for expected in (
        "Failed step:    vpc",
        'Reason:         No "/24" left in pool "us-east-1"',
        "Error code:     PoolExhausted",
        f"{PUBLIC_URL}/v1/account-requests/{request_id}",
    ):
        assert expected in mail.body
    assert "Account id" not in mail.body


def test_each_outcome_is_sent_once_however_often_it_is_handled(sent_mail: SentMail, request_id: str) -> None:
    succeeded = RunSucceeded(run_id="run-1", request_id=request_id, outputs=SUCCESS_OUTPUTS)

    finished(succeeded)
    finished(succeeded)  # handled again without the inbox
    finished(RunSucceeded(run_id="run-1", request_id=request_id))  # a second event for the same outcome
    consumers.handle_event(EMAIL, succeeded.to_envelope())
    consumers.handle_event(EMAIL, succeeded.to_envelope())

    assert len(sent_mail()) == 1
    assert EmailNotification.objects.filter(request_id=request_id).count() == 1
    assert ProcessedMessage.objects.filter(handler="notifications.on_run_finished").count() == 1


def test_the_account_id_comes_from_the_account_when_the_outputs_lack_it(
    sent_mail: SentMail, request_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        accounts,
        "account_for_request",
        lambda *, request_id: accounts.AccountSummary(
            id="210987654321", email="x@example.com", name="x", status="active"
        ),
    )

    finished(RunSucceeded(run_id="run-1", request_id=request_id, outputs={}))

    [mail] = sent_mail()
    assert "Account id:     210987654321" in mail.body
    assert "Account alias" not in mail.body
    assert "VPC" not in mail.body


def test_the_requester_who_is_also_the_technical_contact_gets_one_copy(
    sent_mail: SentMail, demo_payer: accounts.PayerSummary
) -> None:
    body = request_body(requestor__email="whitew@example.com")
    request_id = request_create(client_id=CLIENT, data=body).id

    finished(RunSucceeded(run_id="run-1", request_id=request_id, outputs=SUCCESS_OUTPUTS))

    [mail] = sent_mail()
    assert mail.destinations == {"ToAddresses": ["whitew@example.com"]}


def test_an_unknown_request_sends_nothing(sent_mail: SentMail) -> None:
    finished(RunSucceeded(run_id="run-1", request_id="no-such-request"))

    assert sent_mail() == []
    assert not EmailNotification.objects.exists()


def test_a_refused_send_leaves_no_record_so_a_retry_sends_it(
    sent_mail: SentMail, request_id: str, settings: Any
) -> None:
    settings.NOTIFICATIONS_FROM_EMAIL = "unverified@example.org"
    event = RunSucceeded(run_id="run-1", request_id=request_id, outputs=SUCCESS_OUTPUTS)

    with pytest.raises(PermanentError) as refused:
        finished(event)

    assert refused.value.code == "MessageRejected"
    assert not EmailNotification.objects.exists()
    settings.NOTIFICATIONS_FROM_EMAIL = SENDER
    finished(event)
    assert len(sent_mail()) == 1


def test_verifying_the_sender_twice_is_harmless(sent_mail: SentMail, aws: EmulatedAws) -> None:
    assert api.sender_verify() == SENDER

    identities = aws.client("sesv2").list_email_identities()["EmailIdentities"]
    assert [i["IdentityName"] for i in identities] == [SENDER]


def test_the_backend_sends_html_alternatives_and_copies(sent_mail: SentMail) -> None:
    message = EmailMultiAlternatives(
        subject="Hi", body="plain", from_email=SENDER, to=["a@example.com"], cc=["b@example.com"]
    )
    message.attach_alternative("<p>html</p>", "text/html")

    assert message.send() == 1

    [mail] = sent_mail()
    assert mail.destinations == {"ToAddresses": ["a@example.com"], "CcAddresses": ["b@example.com"]}
    assert mail.body == "<p>html</p>"  # moto keeps the HTML part when there is one
    assert provider_message_id(message) == mail.id


def test_the_backend_sends_attachments_as_raw_mime(sent_mail: SentMail) -> None:
    message = EmailMessage(subject="Report", body="see attached", from_email=SENDER, to=["a@example.com"])
    message.attach("report.txt", "a,b\n1,2\n", "text/plain")

    assert SesEmailBackend().send_messages([message]) == 1

    [mail] = sent_mail()
    assert "report.txt" in mail.raw_data
    assert "Subject: Report" in mail.raw_data


def test_a_silent_backend_swallows_errors(sent_mail: SentMail) -> None:
    message = EmailMessage(subject="x", body="y", from_email="nobody@example.org", to=["a@example.com"])

    assert SesEmailBackend(fail_silently=True).send_messages([message]) == 0
    with pytest.raises(PermanentError):
        SesEmailBackend().send_messages([message])

"""Operators are told of each dead letter once, by webhook and by email."""

from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction
from rest_framework.test import APIClient

from apps.kernel.models import DeadLetter, ProcessedMessage
from apps.notifications.models import WebhookDelivery
from apps.notifications.services import subscription_create
from tasks import consumers
from tests.support.deadletters import ON_DEAD_LETTER, SENDER, SentMail, deliver, operator_mails, outbox, plain_letter

pytestmark = pytest.mark.django_db


def test_a_dead_letter_webhook_is_delivered_once_however_often_the_event_is_handled(
    make_api_client: Callable[..., APIClient],
) -> None:
    # Dead letters belong to no payer: only operators of every payer hear of them.
    operator = make_api_client(all_payers=True).issued.client_id
    wanted = subscription_create(client_id=operator, url="https://ops.example.com/x", events=["dead_letter.created"])
    everything = subscription_create(client_id=operator, url="https://all.example.com/x")
    other = subscription_create(client_id=operator, url="https://runs.example.com/x", events=["run.failed"])
    tenant = subscription_create(client_id=make_api_client().issued.client_id, url="https://t.example.com/x")  # type: ignore[attr-defined]
    letter_id = plain_letter()
    [created] = outbox("DeadLetterCreated")

    consumers.handle_event(ON_DEAD_LETTER, created)
    consumers.handle_event(ON_DEAD_LETTER, created)
    with transaction.atomic():  # and once more without the inbox
        notifications_handlers().on_dead_letter(consumers._decode(created))  # type: ignore[arg-type]

    [delivery] = WebhookDelivery.objects.filter(subscription_id=wanted.subscription.id)
    assert delivery.event_type == "dead_letter.created"
    assert delivery.payload["id"] == created["message_id"]
    assert delivery.payload["data"] == {
        "dead_letter_id": letter_id,
        "handler": "intake.on_run_started",
        "message_type": "RunStarted",
        "error_code": "Boom",
        "error": "the handler has a bug",
        "attempts": 1,
    }
    assert WebhookDelivery.objects.filter(subscription_id=everything.subscription.id).count() == 1
    assert not WebhookDelivery.objects.filter(subscription_id=other.subscription.id).exists()
    assert not WebhookDelivery.objects.filter(subscription_id=tenant.subscription.id).exists()
    assert len(outbox("DeliverWebhook")) == 2
    assert ProcessedMessage.objects.filter(handler="notifications.on_dead_letter").count() == 1


def notifications_handlers() -> Any:
    from apps.notifications import handlers

    return handlers


def test_operators_get_one_email_per_dead_letter(sent_mail: SentMail, settings: Any) -> None:
    settings.OPERATOR_EMAILS = ["ops@example.com", "oncall@example.com"]
    letter_id = plain_letter()
    [created] = outbox("DeadLetterCreated")

    consumers.handle_event(ON_DEAD_LETTER, created)
    consumers.handle_event(ON_DEAD_LETTER, created)

    [mail] = operator_mails(sent_mail)
    assert mail.source == SENDER
    assert mail.destinations == {"ToAddresses": ["ops@example.com", "oncall@example.com"]}
    assert mail.subject == "[Bespoke] Dead letter: RunStarted → intake.on_run_started"
    assert "gave up after 1 attempt(s)" in mail.body
    assert "Error (Boom): the handler has a bug" in mail.body
    assert f"https://bespoke.example.com/v1/dead-letters/{letter_id}" in mail.body


def test_no_operator_addresses_no_email(sent_mail: SentMail, settings: Any) -> None:
    settings.OPERATOR_EMAILS = []
    plain_letter()
    [created] = outbox("DeadLetterCreated")

    consumers.handle_event(ON_DEAD_LETTER, created)

    assert sent_mail() == []


def test_a_failing_operator_alert_is_parked_without_announcing_itself_again(sent_mail: SentMail, settings: Any) -> None:
    """Otherwise the alert about its own dead letter fails the same way, for ever."""
    settings.OPERATOR_EMAILS = ["ops@example.com"]
    settings.NOTIFICATIONS_FROM_EMAIL = "unverified@example.org"
    plain_letter()
    [created] = outbox("DeadLetterCreated")

    deliver("notifications.on_dead_letter", created)

    parked = DeadLetter.objects.get(message_type="DeadLetterCreated")
    assert (parked.handler, parked.error_code) == ("notifications.on_dead_letter", "MessageRejected")
    assert len(outbox("DeadLetterCreated")) == 1  # no alert about the alert
    assert sent_mail() == []

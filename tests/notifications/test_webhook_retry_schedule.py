"""Webhook deliveries are retried for about three days (a configurable schedule); a
subscription whose deliveries keep failing is marked unhealthy (operators are alerted),
then disabled."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from celery.exceptions import Retry
from django.core import mail
from django.db import transaction

from apps.kernel import clock
from apps.notifications import handlers
from apps.notifications.contracts import DeliverWebhook
from apps.notifications.models import WebhookDelivery, WebhookSubscription
from apps.notifications.services import subscription_create
from apps.workflow.contracts import RunSucceeded
from project.celery import app
from tests.notifications.conftest import Tenant
from tests.support.webhooks import Receiver, webhook_receiver

pytestmark = pytest.mark.django_db

START = datetime(2031, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as state:
        yield state


@pytest.fixture
def now() -> Iterator[list[datetime]]:
    current = [START]
    clock.set_source(lambda: current[0])
    yield current
    clock.set_source(None)


def emit(tenant: Tenant) -> WebhookDelivery:
    event = RunSucceeded(run_id="run-1", request_id=tenant.request_id, outputs={"account_id": "123456789012"})
    with transaction.atomic():
        handlers.on_run_event(event)
    return WebhookDelivery.objects.get(event_id=event.message_id)


def deliver_task(delivery: WebhookDelivery, **kwargs: Any) -> None:
    """One delivery of the DeliverWebhook command to its Celery task, as a worker makes it."""
    envelope = DeliverWebhook(delivery_id=delivery.id).to_envelope()
    task = app.tasks["notifications.deliver_webhook"]
    task.push_request(args=[envelope], kwargs=kwargs, called_directly=False, is_eager=True)
    try:
        task.run(envelope, **kwargs)
    finally:
        task.pop_request()


def test_the_default_schedule_spans_about_three_days(settings: Any) -> None:
    total = sum(settings.WEBHOOK_RETRY_SCHEDULE)
    assert timedelta(days=3) <= timedelta(seconds=total) <= timedelta(days=3, hours=6)
    assert settings.WEBHOOK_RETRY_SCHEDULE[0] <= 60  # the first retry comes soon


def test_a_failing_delivery_is_retried_on_the_schedule_not_the_tasks_back_off(
    tenant_a: Tenant, receiver: Receiver, settings: Any
) -> None:
    settings.WEBHOOK_RETRY_SCHEDULE = [60, 3600, 86400]
    settings.TASK_MAX_RETRIES = 0  # would give up at once without the schedule
    subscription_create(client_id=tenant_a.client_id, url=receiver.url)
    receiver.statuses.extend([500, 500, 500, 500])
    delivery = emit(tenant_a)

    waits = []
    kwargs: dict[str, Any] = {}
    for _ in range(3):
        with pytest.raises(Retry) as retried:
            deliver_task(delivery, **kwargs)
        waits.append(retried.value.when)
        kwargs = dict(retried.value.sig.kwargs)
    deliver_task(delivery, **kwargs)  # the fourth attempt is the last

    assert [60 <= waits[0] <= 66, 3600 <= waits[1] <= 3960, 86400 <= waits[2] <= 95040] == [True] * 3
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("failed", 4)
    assert len(receiver.requests) == 4


def test_a_subscription_failing_for_a_day_is_marked_unhealthy_and_operators_are_told(
    tenant_a: Tenant, receiver: Receiver, settings: Any, now: list[datetime]
) -> None:
    settings.OPERATOR_EMAILS = ["ops@example.com"]
    settings.WEBHOOK_UNHEALTHY_AFTER_SECONDS = 86400
    subscription_id = subscription_create(client_id=tenant_a.client_id, url=receiver.url).subscription.id
    receiver.statuses.extend([500, 500, 500])

    handlers.deliver_webhook(DeliverWebhook(delivery_id=emit(tenant_a).id), attempt=1, retry_delay=None)
    now[0] += timedelta(hours=23)
    handlers.deliver_webhook(DeliverWebhook(delivery_id=emit(tenant_a).id), attempt=1, retry_delay=None)
    assert WebhookSubscription.objects.get(id=subscription_id).unhealthy_since is None
    now[0] += timedelta(hours=2)
    handlers.deliver_webhook(DeliverWebhook(delivery_id=emit(tenant_a).id), attempt=1, retry_delay=None)

    subscription = WebhookSubscription.objects.get(id=subscription_id)
    assert subscription.failing_since == START
    assert subscription.unhealthy_since == START + timedelta(hours=25)
    assert subscription.active
    [alert] = mail.outbox
    assert alert.to == ["ops@example.com"]
    assert "unhealthy" in alert.subject


def test_a_success_makes_a_subscription_healthy_again(
    tenant_a: Tenant, receiver: Receiver, settings: Any, now: list[datetime]
) -> None:
    settings.WEBHOOK_UNHEALTHY_AFTER_SECONDS = 0
    subscription_id = subscription_create(client_id=tenant_a.client_id, url=receiver.url).subscription.id
    receiver.statuses.extend([500, 200])

    handlers.deliver_webhook(DeliverWebhook(delivery_id=emit(tenant_a).id), attempt=1, retry_delay=None)
    assert WebhookSubscription.objects.get(id=subscription_id).unhealthy_since is not None
    handlers.deliver_webhook(DeliverWebhook(delivery_id=emit(tenant_a).id), attempt=1, retry_delay=None)

    subscription = WebhookSubscription.objects.get(id=subscription_id)
    assert (subscription.failing_since, subscription.unhealthy_since) == (None, None)


def test_a_subscription_failing_past_the_limit_is_disabled_and_its_pending_deliveries_end(
    tenant_a: Tenant, receiver: Receiver, settings: Any, now: list[datetime]
) -> None:
    settings.OPERATOR_EMAILS = ["ops@example.com"]
    settings.WEBHOOK_DISABLE_AFTER_SECONDS = 3 * 86400
    subscription_id = subscription_create(client_id=tenant_a.client_id, url=receiver.url).subscription.id
    receiver.statuses.extend([500, 500])
    pending = emit(tenant_a)

    handlers.deliver_webhook(DeliverWebhook(delivery_id=emit(tenant_a).id), attempt=1, retry_delay=None)
    now[0] += timedelta(days=3, minutes=1)
    handlers.deliver_webhook(DeliverWebhook(delivery_id=emit(tenant_a).id), attempt=1, retry_delay=None)

    subscription = WebhookSubscription.objects.get(id=subscription_id)
    assert not subscription.active
    assert subscription.disabled_at == now[0]
    assert [m.subject.split(":")[0] for m in mail.outbox] == [
        "[Bespoke] Webhook subscription unhealthy",
        "[Bespoke] Webhook subscription disabled",
    ]
    handlers.deliver_webhook(DeliverWebhook(delivery_id=pending.id), attempt=1, retry_delay=1.0)
    pending.refresh_from_db()
    assert (pending.state, pending.last_outcome) == ("failed", "subscription_inactive")
    assert len(receiver.requests) == 2

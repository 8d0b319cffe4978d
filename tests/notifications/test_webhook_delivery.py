"""Delivering webhooks to a real HTTP receiver on loopback (allowed by the test settings'
WEBHOOK_ALLOWED_NETWORKS): signed JSON, retried until a 2xx, recorded attempt by attempt,
never POSTed again once delivered; clients see what an attempt came to as a category."""

import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction
from rest_framework.test import APIClient

from apps.kernel.models import OutboxMessage
from apps.kernel.steps import RetryLater
from apps.notifications import handlers
from apps.notifications.contracts import DeliverWebhook
from apps.notifications.models import WebhookDelivery
from apps.notifications.services import subscription_create, subscription_deactivate
from apps.notifications.signing import verify_signature
from apps.workflow.contracts import RunFailed, RunSucceeded
from tasks import consumers
from tasks.subscriptions import COMMAND_HANDLERS
from tests.notifications.conftest import Tenant
from tests.support.webhooks import Received, Receiver, webhook_receiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as state:
        yield state


@pytest.fixture
def closed_port_url() -> str:
    """A loopback URL nobody listens on: connecting is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


@pytest.fixture
def tenant(tenant_a: Tenant) -> Tenant:
    """The subscriber, whose request the events are about."""
    return tenant_a


def subscribe(tenant: Tenant, url: str, *events: str) -> tuple[str, str]:
    issued = subscription_create(client_id=tenant.client_id, url=url, events=events)
    return issued.subscription.id, issued.secret


def emit(event: RunSucceeded | RunFailed) -> WebhookDelivery:
    """Handle ``event`` as the messaging layer does; the (single) delivery it made."""
    with transaction.atomic():
        handlers.on_run_event(event)
    return WebhookDelivery.objects.get(event_id=event.message_id)


def deliver(delivery: WebhookDelivery, *, attempt: int = 1, retry_delay: float | None = 1.0) -> None:
    handlers.deliver_webhook(DeliverWebhook(delivery_id=delivery.id), attempt=attempt, retry_delay=retry_delay)


def fresh(delivery: WebhookDelivery) -> WebhookDelivery:
    delivery.refresh_from_db()
    return delivery


def succeeded_event(tenant: Tenant, **outputs: Any) -> RunSucceeded:
    return RunSucceeded(run_id="run-1", request_id=tenant.request_id, outputs=outputs or {"account_id": "123456789012"})


def test_a_2xx_answer_delivers_the_signed_json_once(tenant: Tenant, receiver: Receiver) -> None:
    _, secret = subscribe(tenant, receiver.url)
    event = succeeded_event(tenant)
    delivery = emit(event)

    deliver(delivery)
    deliver(delivery)  # a redelivered command finds it delivered

    [request] = receiver.requests
    assert request.path == "/hooks/bespoke?source=test"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["bespoke-event"] == "run.succeeded"
    assert request.headers["bespoke-delivery"] == delivery.id
    assert verify_signature(secret, request.headers["bespoke-signature"], request.body)
    assert not verify_signature("whsec_someone_else", request.headers["bespoke-signature"], request.body)
    assert json.loads(request.body) == {
        "id": event.message_id,
        "type": "run.succeeded",
        "created_at": event.occurred_at.isoformat(),
        "data": {"request_id": tenant.request_id, "run_id": "run-1", "outputs": {"account_id": "123456789012"}},
    }
    delivered = fresh(delivery)
    assert (
        delivered.state,
        delivered.attempts,
        delivered.last_status_code,
        delivered.last_outcome,
        delivered.last_error,
    ) == ("succeeded", 1, 200, "http_200", "")
    assert delivered.delivered_at is not None


@pytest.mark.parametrize("status", [200, 201, 202, 204])
def test_any_2xx_is_success(tenant: Tenant, receiver: Receiver, status: int) -> None:
    subscribe(tenant, receiver.url)
    receiver.statuses.append(status)
    delivery = emit(succeeded_event(tenant))

    deliver(delivery, retry_delay=None)

    assert (fresh(delivery).state, fresh(delivery).last_status_code) == ("succeeded", status)


@pytest.mark.urls("tests.notifications.urls")
def test_a_500_is_retried_later_then_delivered_and_the_api_shows_both_attempts(
    tenant: Tenant, receiver: Receiver, api: APIClient
) -> None:
    created = api.post("/v1/webhooks", {"url": receiver.url}, format="json").json()
    receiver.statuses.extend([500, 200])
    delivery = emit(succeeded_event(tenant))

    with pytest.raises(RetryLater) as later:
        deliver(delivery, attempt=1, retry_delay=2.5)

    assert later.value.delay == 2.5
    assert later.value.error.retryable
    assert later.value.error.code == "webhook_http_error"
    pending = fresh(delivery)  # the failed attempt is on record before the retry
    assert (pending.state, pending.attempts, pending.last_status_code, pending.last_outcome) == (
        "pending",
        1,
        500,
        "http_500",
    )
    assert "500" in pending.last_error

    deliver(delivery, attempt=2, retry_delay=5.0)

    assert len(receiver.requests) == 2
    assert receiver.requests[0].body == receiver.requests[1].body
    assert all(verify_signature(created["secret"], r.headers["bespoke-signature"], r.body) for r in receiver.requests)
    listed = api.get(f"/v1/webhooks/{created['id']}/deliveries").json()
    assert listed["count"] == 1
    [shown] = listed["results"]
    assert (
        shown["id"],
        shown["state"],
        shown["attempts"],
        shown["last_status_code"],
        shown["last_outcome"],
        shown["last_error"],
    ) == (delivery.id, "succeeded", 2, 200, "http_200", None)
    assert shown["delivered_at"] is not None
    assert api.get(f"/v1/webhooks/{created['id']}").json()["deliveries"] == listed["results"]


def test_connection_refused_on_the_last_attempt_fails_the_delivery(tenant: Tenant, closed_port_url: str) -> None:
    subscribe(tenant, closed_port_url)
    delivery = emit(succeeded_event(tenant))

    with pytest.raises(RetryLater) as later:
        deliver(delivery, attempt=1, retry_delay=1.0)
    deliver(delivery, attempt=2, retry_delay=None)

    assert later.value.error.code == "webhook_connection_failed"
    failed = fresh(delivery)
    assert (failed.state, failed.attempts, failed.last_status_code, failed.last_outcome) == (
        "failed",
        2,
        None,
        "connection_failed",
    )
    assert "refused" in failed.last_error.lower()  # the detail, for operators
    assert failed.delivered_at is None


def test_a_failure_on_the_last_attempt_is_final(tenant: Tenant, receiver: Receiver) -> None:
    subscribe(tenant, receiver.url)
    receiver.statuses.extend([503, 200])
    delivery = emit(succeeded_event(tenant))

    deliver(delivery, retry_delay=None)
    deliver(delivery, retry_delay=None)  # nothing more once it has failed

    assert len(receiver.requests) == 1
    assert (fresh(delivery).state, fresh(delivery).last_status_code, fresh(delivery).last_outcome) == (
        "failed",
        503,
        "http_503",
    )


def test_a_redirect_is_not_followed_and_counts_as_a_failure(tenant: Tenant, receiver: Receiver) -> None:
    subscribe(tenant, receiver.url)
    receiver.statuses.append(302)
    delivery = emit(succeeded_event(tenant))

    with pytest.raises(RetryLater) as later:
        deliver(delivery)

    assert len(receiver.requests) == 1
    assert (fresh(delivery).state, fresh(delivery).last_status_code, fresh(delivery).last_outcome) == (
        "pending",
        302,
        "redirect",
    )
    assert later.value.error.code == "webhook_redirect"


def test_a_receiver_slower_than_the_timeout_is_a_failed_attempt(
    tenant: Tenant, receiver: Receiver, settings: Any
) -> None:
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.2
    receiver.delay = 0.6
    subscribe(tenant, receiver.url)
    delivery = emit(succeeded_event(tenant))

    started = time.monotonic()
    with pytest.raises(RetryLater) as later:
        deliver(delivery)

    assert time.monotonic() - started < 0.55
    assert later.value.error.code == "webhook_timeout"
    assert (fresh(delivery).attempts, fresh(delivery).last_outcome) == (1, "timeout")
    assert "timed out" in fresh(delivery).last_error.lower()  # the detail, for operators


def test_a_quote_in_a_project_name_survives(tenant: Tenant, receiver: Receiver) -> None:
    _, secret = subscribe(tenant, receiver.url)
    name = 'Ops "Blue" Team\'s \\ project </script> ünïcode'
    delivery = emit(succeeded_event(tenant, project_name=name, account_alias='a"b'))

    deliver(delivery)

    [request] = receiver.requests
    assert verify_signature(secret, request.headers["bespoke-signature"], request.body)
    assert json.loads(request.body)["data"]["outputs"] == {"project_name": name, "account_alias": 'a"b'}


def test_a_deactivated_subscription_is_not_posted_to(tenant: Tenant, receiver: Receiver) -> None:
    subscription_id, _ = subscribe(tenant, receiver.url)
    delivery = emit(succeeded_event(tenant))
    subscription_deactivate(subscription_id=subscription_id, client_id=tenant.client_id)

    deliver(delivery)

    assert receiver.requests == []
    assert (fresh(delivery).state, fresh(delivery).last_outcome) == ("failed", "subscription_inactive")
    assert "deactivated" in fresh(delivery).last_error


def test_an_unknown_delivery_is_ignored() -> None:
    handlers.deliver_webhook(DeliverWebhook(delivery_id="no-such-delivery"), attempt=1, retry_delay=None)


def test_the_consumer_delivers_the_recorded_command(tenant: Tenant, receiver: Receiver) -> None:
    _, secret = subscribe(tenant, receiver.url, "run.failed")
    emit(
        RunFailed(
            run_id="run-1", request_id=tenant.request_id, step="vpc", error_code="NoCidr", message='No "/24" left'
        )
    )
    [command] = OutboxMessage.objects.filter(type="DeliverWebhook")
    runner = COMMAND_HANDLERS["DeliverWebhook"]

    consumers.run_step(runner, command.envelope, attempt=1, retry_delay=1.0)
    consumers.run_step(runner, command.envelope, attempt=1, retry_delay=1.0)

    [request] = receiver.requests
    assert verify_signature(secret, request.headers["bespoke-signature"], request.body)
    assert json.loads(request.body)["data"]["message"] == 'No "/24" left'
    assert WebhookDelivery.objects.get().state == "succeeded"


def test_each_subscription_gets_its_own_signature(tenant: Tenant, receiver: Receiver) -> None:
    secrets = [subscribe(tenant, receiver.url)[1] for _ in range(2)]
    event = succeeded_event(tenant)
    with transaction.atomic():
        handlers.on_run_event(event)

    for delivery in WebhookDelivery.objects.all():
        deliver(delivery)

    def signed_by(request: Received) -> list[str]:
        return [s for s in secrets if verify_signature(s, request.headers["bespoke-signature"], request.body)]

    assert sorted(len(signed_by(r)) for r in receiver.requests) == [1, 1]
    assert {signed_by(r)[0] for r in receiver.requests} == set(secrets)

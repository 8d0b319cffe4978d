"""Run events become webhook deliveries: one per subscription that wants the event (and
whose client may hear of it: see test_webhook_tenancy.py), once."""

from typing import Any

import pytest
from django.db import transaction

from apps.kernel import clock
from apps.kernel.contracts import Message, StepFailed, StepRetrying, StepSucceeded
from apps.kernel.models import OutboxMessage, ProcessedMessage
from apps.notifications import handlers
from apps.notifications.models import WebhookDelivery
from apps.notifications.services import subscription_create, subscription_deactivate
from apps.workflow.contracts import RunFailed, RunStarted, RunSucceeded
from apps.workflow.models import Run
from tasks import consumers
from tasks.subscriptions import EVENT_SUBSCRIBERS
from tests.notifications.conftest import MakeClient, Tenant

pytestmark = pytest.mark.django_db

[WEBHOOKS] = {s for s in EVENT_SUBSCRIBERS["RunSucceeded"] if s.name == "notifications.on_run_event"}


@pytest.fixture
def tenant(tenant_a: Tenant) -> Tenant:
    """The subscriber, whose request the events are about."""
    return tenant_a


def subscribe(tenant: Tenant, *events: str, client_id: str | None = None) -> str:
    url = "https://hooks.example.com/x"
    return subscription_create(client_id=client_id or tenant.client_id, url=url, events=events).subscription.id


def deliveries(subscription_id: str | None = None) -> list[WebhookDelivery]:
    queryset = WebhookDelivery.objects.all()
    if subscription_id:
        queryset = queryset.filter(subscription_id=subscription_id)
    return list(queryset)


def commands() -> list[dict[str, Any]]:
    return [m.envelope for m in OutboxMessage.objects.filter(type="DeliverWebhook")]


def handle(event: Message) -> None:
    with transaction.atomic():  # as the messaging layer calls it
        handlers.on_run_event(event)  # type: ignore[arg-type]


@pytest.fixture
def run_id(tenant: Tenant) -> str:
    return Run.objects.create(
        id="22222222-2222-4222-8222-222222222222", request_id=tenant.request_id, started_at=clock.now()
    ).id


def test_an_event_makes_one_delivery_per_matching_subscription_and_a_command_for_each(tenant: Tenant) -> None:
    everything, finished, started_only = (
        subscribe(tenant),
        subscribe(tenant, "run.succeeded", "run.failed"),
        subscribe(tenant, "run.started"),
    )
    event = RunSucceeded(run_id="run-1", request_id=tenant.request_id, outputs={"account_id": "123456789012"})

    handle(event)

    assert len(deliveries(everything)) == len(deliveries(finished)) == 1
    assert deliveries(started_only) == []
    made = deliveries()
    assert {(d.event_id, d.event_type, d.state, d.attempts) for d in made} == {
        (event.message_id, "run.succeeded", "pending", 0)
    }
    assert sorted(c["payload"]["delivery_id"] for c in commands()) == sorted(d.id for d in made)


def test_inactive_subscriptions_get_nothing(tenant: Tenant) -> None:
    gone = subscribe(tenant)
    subscription_deactivate(subscription_id=gone, client_id=tenant.client_id)

    handle(RunStarted(run_id="run-1", request_id=tenant.request_id))

    assert deliveries() == []
    assert commands() == []


def test_events_that_are_not_webhooks_are_ignored(tenant: Tenant) -> None:
    subscribe(tenant)

    handle(
        StepRetrying(run_id="r", step="vpc", attempts=1, error_code="Throttling", message="slow", retry_in_seconds=1)
    )

    assert deliveries() == []


def test_the_same_event_handled_again_has_one_delivery(tenant: Tenant) -> None:
    first, second = subscribe(tenant), subscribe(tenant, "run.failed")
    event = RunFailed(
        run_id="run-1", request_id=tenant.request_id, step="vpc", error_code="NoCidr", message="Pool empty"
    )
    envelope = event.to_envelope()

    handle(event)
    consumers.handle_event(WEBHOOKS, envelope)
    consumers.handle_event(WEBHOOKS, envelope)

    assert len(deliveries(first)) == len(deliveries(second)) == 1
    assert len(commands()) == 2
    assert ProcessedMessage.objects.filter(handler="notifications.on_run_event").count() == 1


def test_a_new_subscription_hears_only_later_events(tenant: Tenant) -> None:
    early = subscribe(tenant)
    handle(RunStarted(run_id="run-1", request_id=tenant.request_id))
    late = subscribe(tenant)

    handle(RunSucceeded(run_id="run-1", request_id=tenant.request_id))

    assert sorted(d.event_type for d in deliveries(early)) == ["run.started", "run.succeeded"]
    assert [d.event_type for d in deliveries(late)] == ["run.succeeded"]


def test_run_payloads(tenant: Tenant) -> None:
    subscribe(tenant)
    started = RunStarted(run_id="run-1", request_id=tenant.request_id)
    succeeded = RunSucceeded(run_id="run-1", request_id=tenant.request_id, outputs={"account_id": "123456789012"})
    failed = RunFailed(
        run_id="run-1", request_id=tenant.request_id, step="vpc", error_code="NoCidr", message="Pool empty"
    )

    for event in (started, succeeded, failed):
        handle(event)

    payloads = {d.event_type: d.payload for d in deliveries()}
    assert payloads["run.started"] == {
        "id": started.message_id,
        "type": "run.started",
        "created_at": started.occurred_at.isoformat(),
        "data": {"request_id": tenant.request_id, "run_id": "run-1"},
    }
    assert payloads["run.succeeded"]["data"] == {
        "request_id": tenant.request_id,
        "run_id": "run-1",
        "outputs": {"account_id": "123456789012"},
    }
    assert payloads["run.failed"]["data"] == {
        "request_id": tenant.request_id,
        "run_id": "run-1",
        "step": "vpc",
        "error_code": "NoCidr",
        "message": "Pool empty",
    }


def test_step_payloads_carry_the_request_id_of_their_run(tenant: Tenant, run_id: str) -> None:
    subscribe(tenant, "step.succeeded", "step.failed")
    ok = StepSucceeded(run_id=run_id, step="vpc", attempts=2, outputs={"vpc_id": "vpc-1", "cidr": "10.0.0.0/24"})
    broken = StepFailed(run_id=run_id, step="dns", attempts=3, error_code="Throttling", message="gave up")

    handle(ok)
    handle(broken)

    payloads = {d.event_type: d.payload for d in deliveries()}
    assert payloads["step.succeeded"]["data"] == {
        "request_id": tenant.request_id,
        "run_id": run_id,
        "step": "vpc",
        "attempts": 2,
        "outputs": {"vpc_id": "vpc-1", "cidr": "10.0.0.0/24"},
    }
    assert payloads["step.failed"]["data"] == {
        "request_id": tenant.request_id,
        "run_id": run_id,
        "step": "dns",
        "attempts": 3,
        "error_code": "Throttling",
        "message": "gave up",
    }


def test_a_step_event_of_an_unknown_run_reaches_only_operators_of_every_payer(
    tenant: Tenant, make_client: MakeClient
) -> None:
    own = subscribe(tenant)
    operator = subscribe(tenant, client_id=make_client("operations:admin", all_payers=True))

    handle(StepSucceeded(run_id="gone", step="vpc", attempts=1))

    assert deliveries(own) == []
    [delivery] = deliveries(operator)
    assert delivery.payload["data"]["request_id"] is None


def test_the_delivery_command_travels_as_an_envelope_the_consumer_can_decode(tenant: Tenant) -> None:
    subscribe(tenant)
    handle(RunStarted(run_id="run-1", request_id=tenant.request_id))

    [envelope] = commands()
    decoded = Message.from_envelope(envelope)

    assert type(decoded).__name__ == "DeliverWebhook"
    assert decoded.delivery_id == deliveries()[0].id  # type: ignore[attr-defined]

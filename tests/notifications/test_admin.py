"""Operators in the admin: subscriptions (their secret on no page, fixed once made, rotated
only with a permission), their deliveries, a redrive for failed ones, and the email log."""

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from apps.kernel.models import OutboxMessage
from apps.notifications.models import WebhookDelivery, WebhookSubscription
from apps.notifications.secret_store import decrypt
from apps.notifications.services import deliveries_create_for_event, subscription_create
from apps.workflow.contracts import RunFailed
from tests.notifications.conftest import Tenant

pytestmark = [pytest.mark.django_db, pytest.mark.urls("project.urls")]


@pytest.fixture
def operator() -> Client:
    user = get_user_model().objects.create_superuser("op", "op@example.com", "pw-not-secret")
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def subscription(tenant_a: Tenant) -> Any:
    issued = subscription_create(client_id=tenant_a.client_id, url="https://hooks.example.com/x", events=["run.failed"])
    deliveries_create_for_event(
        event=RunFailed(run_id="run-1", request_id=tenant_a.request_id, step="vpc", error_code="E", message="m")
    )
    return issued


def test_the_list_shows_subscriptions_but_not_their_secrets(operator: Client, subscription: Any) -> None:
    response = operator.get("/admin/notifications/webhooksubscription/")

    assert response.status_code == 200
    assert b"hooks.example.com" in response.content
    assert subscription.secret.encode() not in response.content


def test_a_subscription_page_shows_its_deliveries_and_cannot_change_url_or_secret(
    operator: Client, subscription: Any
) -> None:
    path = f"/admin/notifications/webhooksubscription/{subscription.subscription.id}/change/"
    page = operator.get(path)

    assert page.status_code == 200
    assert b"run.failed" in page.content
    response = operator.post(
        path,
        {
            "description": "now described",
            "active": "",
            "url": "https://evil.example.com/",
            "secret": "whsec_mine",
            "deliveries-TOTAL_FORMS": "1",
            "deliveries-INITIAL_FORMS": "1",
            "deliveries-MIN_NUM_FORMS": "0",
            "deliveries-MAX_NUM_FORMS": "1000",
            "deliveries-0-id": WebhookDelivery.objects.get().id,
            "deliveries-0-subscription": subscription.subscription.id,
        },
    )

    assert response.status_code == 302, response.content[:2000]
    saved = WebhookSubscription.objects.get()
    assert (saved.description, saved.active) == ("now described", False)
    assert (saved.url, decrypt(saved.secret_encrypted)) == ("https://hooks.example.com/x", subscription.secret)


def test_adding_a_subscription_in_the_admin_gives_it_a_secret_shown_once(operator: Client, tenant_b: Tenant) -> None:
    response = operator.post(
        "/admin/notifications/webhooksubscription/add/",
        {
            "client_id": tenant_b.client_id,
            "url": "https://hooks.example.com/ops",
            "events": '["run.failed"]',
            "description": "ops",
            "deliveries-TOTAL_FORMS": "0",
            "deliveries-INITIAL_FORMS": "0",
            "deliveries-MIN_NUM_FORMS": "0",
            "deliveries-MAX_NUM_FORMS": "1000",
        },
    )

    assert response.status_code == 302, response.content[:2000]
    created = WebhookSubscription.objects.get()
    assert (created.client_id, created.events, created.active) == (tenant_b.client_id, ["run.failed"], True)
    secret = decrypt(created.secret_encrypted)
    assert secret.startswith("whsec_")
    shown = operator.get(response["Location"]).content.decode()
    assert secret in shown  # the message, once
    assert secret not in operator.get(response["Location"]).content.decode()


def test_the_admin_refuses_unknown_clients_event_types_and_bad_urls(operator: Client) -> None:
    response = operator.post(
        "/admin/notifications/webhooksubscription/add/",
        {
            "client_id": "no-such-client",
            "url": "ftp://hooks.example.com/ops",
            "events": '["run.exploded"]',
            "deliveries-TOTAL_FORMS": "0",
            "deliveries-INITIAL_FORMS": "0",
            "deliveries-MIN_NUM_FORMS": "0",
            "deliveries-MAX_NUM_FORMS": "1000",
        },
    )

    assert response.status_code == 200
    assert b"No API client has this id." in response.content
    assert b"run.exploded" in response.content
    assert b"http:// or https://" in response.content
    assert not WebhookSubscription.objects.exists()


def test_the_admin_refuses_an_internal_url(operator: Client, tenant_b: Tenant, settings: Any) -> None:
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    response = operator.post(
        "/admin/notifications/webhooksubscription/add/",
        {
            "client_id": tenant_b.client_id,
            "url": "http://169.254.169.254/latest/meta-data/",
            "events": "[]",
            "deliveries-TOTAL_FORMS": "0",
            "deliveries-INITIAL_FORMS": "0",
            "deliveries-MIN_NUM_FORMS": "0",
            "deliveries-MAX_NUM_FORMS": "1000",
        },
    )

    assert response.status_code == 200
    assert b"is not public" in response.content
    assert not WebhookSubscription.objects.exists()


def test_failed_deliveries_can_be_delivered_again(operator: Client, subscription: Any) -> None:
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(id=delivery.id).update(state="failed", attempts=9)
    commands_before = OutboxMessage.objects.filter(type="DeliverWebhook").count()

    listing = operator.get("/admin/notifications/webhookdelivery/", {"state": "failed"})
    response = operator.post(
        "/admin/notifications/webhookdelivery/", {"action": "redeliver", "_selected_action": [delivery.id]}
    )

    assert listing.status_code == 200
    assert response.status_code == 302
    assert WebhookDelivery.objects.get().state == "pending"
    assert OutboxMessage.objects.filter(type="DeliverWebhook").count() == commands_before + 1


def test_the_email_log_and_a_delivery_page_render(operator: Client, subscription: Any) -> None:
    delivery = WebhookDelivery.objects.get()

    assert operator.get("/admin/notifications/emailnotification/").status_code == 200
    assert operator.get(f"/admin/notifications/webhookdelivery/{delivery.id}/change/").status_code == 200

"""Signing secrets: stored encrypted (keys from WEBHOOK_SECRET_KEYS, rotatable), shown once
when made, never again — not in the API, not in the admin (not even their ciphertext), not
to any staff user. Rotating one is an admin action behind its own permission.

Before: the secret was stored in the clear and shown on every subscription's admin page to
any staff user who could view subscriptions.
"""

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from rest_framework.test import APIClient

from apps.notifications import handlers, secret_store
from apps.notifications.contracts import DeliverWebhook
from apps.notifications.models import WebhookDelivery, WebhookSubscription
from apps.notifications.services import subscription_create
from apps.notifications.signing import verify_signature
from apps.workflow.contracts import RunSucceeded
from tests.notifications.conftest import Tenant
from tests.support.processes import child_environment
from tests.support.webhooks import webhook_receiver

ROOT = Path(__file__).resolve().parents[2]
CHANGELIST = "/admin/notifications/webhooksubscription/"

pytestmark = pytest.mark.django_db


def stored(subscription_id: str) -> dict[str, Any]:
    """The subscription's row as the database holds it."""
    return dict(WebhookSubscription.objects.filter(id=subscription_id).values().get())


@pytest.fixture
def issued(tenant_a: Tenant) -> Any:
    return subscription_create(client_id=tenant_a.client_id, url="https://hooks.example.com/x")


def test_the_secret_is_stored_encrypted(issued: Any) -> None:
    row = stored(issued.subscription.id)

    assert issued.secret not in str(row)
    assert row["secret_encrypted"].startswith("gAAAA")  # a Fernet token
    assert secret_store.decrypt(row["secret_encrypted"]) == issued.secret


@pytest.mark.urls("tests.notifications.urls")
def test_the_api_shows_the_secret_once_and_never_its_ciphertext(api: APIClient) -> None:
    created = api.post("/v1/webhooks", {"url": "https://hooks.example.com/x"}, format="json").json()
    ciphertext = stored(created["id"])["secret_encrypted"]

    later = [api.get("/v1/webhooks").content, api.get(f"/v1/webhooks/{created['id']}").content]

    assert created["secret"].startswith("whsec_")
    for answer in later:
        assert created["secret"].encode() not in answer
        assert ciphertext.encode() not in answer
        assert b"secret" not in answer


# --- The admin -------------------------------------------------------------------------------


def staff(*permissions: str, superuser: bool = False) -> Client:
    users = get_user_model().objects
    name = f"staff-{users.count()}"
    if superuser:
        user = users.create_superuser(name, f"{name}@example.com", "pw-not-secret")
    else:
        user = users.create_user(name, f"{name}@example.com", "pw-not-secret", is_staff=True)
        user.user_permissions.set(
            [Permission.objects.get(content_type__app_label="notifications", codename=code) for code in permissions]
        )
    client = Client()
    client.force_login(user)
    return client


def admin_pages(client: Client, subscription_id: str) -> str:
    pages = [client.get(CHANGELIST), client.get(f"{CHANGELIST}{subscription_id}/change/")]
    assert all(page.status_code == 200 for page in pages), [page.status_code for page in pages]
    return "".join(page.content.decode() for page in pages)


@pytest.mark.urls("project.urls")
@pytest.mark.parametrize(
    "make_staff",
    [
        lambda: staff("view_webhooksubscription"),
        lambda: staff("view_webhooksubscription", "change_webhooksubscription"),
        lambda: staff(superuser=True),
    ],
    ids=["view-only", "can-change", "superuser"],
)
def test_no_staff_user_ever_sees_the_secret_or_its_ciphertext(issued: Any, make_staff: Callable[[], Client]) -> None:
    html = admin_pages(make_staff(), issued.subscription.id)

    assert "hooks.example.com" in html
    assert issued.secret not in html
    assert stored(issued.subscription.id)["secret_encrypted"] not in html
    assert "whsec_" not in html


@pytest.mark.urls("project.urls")
def test_rotating_a_secret_needs_its_permission(issued: Any) -> None:
    viewer = staff("view_webhooksubscription", "change_webhooksubscription")
    before = stored(issued.subscription.id)["secret_encrypted"]

    page = viewer.get(CHANGELIST).content.decode()
    response = viewer.post(CHANGELIST, {"action": "rotate_secret", "_selected_action": [issued.subscription.id]})

    assert 'value="rotate_secret"' not in page
    assert response.status_code in (200, 302)
    assert stored(issued.subscription.id)["secret_encrypted"] == before
    assert "whsec_" not in viewer.get(CHANGELIST).content.decode()


@pytest.mark.urls("project.urls")
def test_a_rotated_secret_is_shown_once_and_signs_from_then_on(issued: Any, tenant_a: Tenant) -> None:
    rotator = staff("view_webhooksubscription", "rotate_secret")

    assert 'value="rotate_secret"' in rotator.get(CHANGELIST).content.decode()
    response = rotator.post(CHANGELIST, {"action": "rotate_secret", "_selected_action": [issued.subscription.id]})
    shown = rotator.get(response["Location"]).content.decode()
    again = rotator.get(CHANGELIST).content.decode() + admin_pages(rotator, issued.subscription.id)

    new_secret = secret_store.decrypt(stored(issued.subscription.id)["secret_encrypted"])
    assert new_secret != issued.secret
    assert new_secret in shown
    assert new_secret not in again
    with webhook_receiver() as receiver:
        WebhookSubscription.objects.filter(id=issued.subscription.id).update(url=receiver.url)
        deliver_one(tenant_a)
    [request] = receiver.requests
    assert verify_signature(new_secret, request.headers["bespoke-signature"], request.body)
    assert not verify_signature(issued.secret, request.headers["bespoke-signature"], request.body)


def deliver_one(tenant: Tenant) -> WebhookDelivery:
    with transaction.atomic():
        handlers.on_run_event(RunSucceeded(run_id="run-1", request_id=tenant.request_id))
    delivery = WebhookDelivery.objects.get()
    handlers.deliver_webhook(DeliverWebhook(delivery_id=delivery.id), attempt=1, retry_delay=None)
    delivery.refresh_from_db()
    return delivery


# --- Keys ------------------------------------------------------------------------------------


def test_keys_rotate_new_first_then_reencrypt_then_drop_the_old(issued: Any, settings: Any) -> None:
    old = settings.WEBHOOK_SECRET_KEYS[0]
    new = Fernet.generate_key().decode()
    token_before = stored(issued.subscription.id)["secret_encrypted"]

    settings.WEBHOOK_SECRET_KEYS = [new, old]
    assert secret_store.decrypt(token_before) == issued.secret  # the old key still opens it
    call_command("reencrypt_webhook_secrets", stdout=(out := _Output()))
    settings.WEBHOOK_SECRET_KEYS = [new]

    token_after = stored(issued.subscription.id)["secret_encrypted"]
    assert "Re-encrypted 1 " in out.text
    assert token_after != token_before
    assert secret_store.decrypt(token_after) == issued.secret
    settings.WEBHOOK_SECRET_KEYS = [old]
    with pytest.raises(secret_store.InvalidToken):
        secret_store.decrypt(token_after)


def test_reencrypting_says_which_secrets_no_key_opens(issued: Any, settings: Any) -> None:
    settings.WEBHOOK_SECRET_KEYS = [Fernet.generate_key().decode()]  # the old key is gone too early

    with pytest.raises(CommandError, match="1 secret"):
        call_command("reencrypt_webhook_secrets", stdout=_Output())


def test_a_secret_no_key_opens_is_not_sent_and_clients_learn_only_that(tenant_a: Tenant, settings: Any) -> None:
    with webhook_receiver() as receiver:
        subscription_create(client_id=tenant_a.client_id, url=receiver.url)
        settings.WEBHOOK_SECRET_KEYS = [Fernet.generate_key().decode()]
        delivery = deliver_one(tenant_a)

    assert receiver.requests == []
    assert (delivery.state, delivery.last_outcome) == ("failed", "not_sent")
    assert "WEBHOOK_SECRET_KEYS" in delivery.last_error


class _Output:
    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> None:
        self.text += text

    def flush(self) -> None:
        pass


@pytest.mark.parametrize(
    ("keys", "networks", "complaint"),
    [
        ([], [], "Set WEBHOOK_SECRET_KEYS"),
        (["not-a-fernet-key"], [], "key 1 is not a Fernet key"),
        ([Fernet.generate_key().decode()], ["10.0.0.0/8", "bogus"], "WEBHOOK_ALLOWED_NETWORKS"),
    ],
)
def test_the_app_refuses_to_start_misconfigured(
    settings: Any, keys: list[str], networks: list[str], complaint: str
) -> None:
    settings.WEBHOOK_SECRET_KEYS = keys
    settings.WEBHOOK_ALLOWED_NETWORKS = networks

    with pytest.raises(ImproperlyConfigured, match=complaint):
        apps.get_app_config("notifications").ready()


def test_the_deployable_settings_have_no_default_key() -> None:
    env = child_environment(
        DJANGO_SETTINGS_MODULE="project.settings.production",
        DJANGO_SECRET_KEY="x" * 50,
        DATABASE_URL="postgres://x@127.0.0.1/x",
        REDIS_URL="redis://127.0.0.1:6379/0",
    )
    env.pop("WEBHOOK_SECRET_KEYS", None)

    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )

    assert result.returncode != 0
    assert "Set WEBHOOK_SECRET_KEYS" in result.stderr


# --- The migration that encrypted the secrets stored in the clear -------------------------------


@pytest.mark.django_db(transaction=True)
def test_existing_secrets_are_encrypted_by_the_migration_and_decrypted_if_it_is_reversed() -> None:
    executor = MigrationExecutor(connection)
    before, after = [("notifications", "0003_delivery_outcomes")], [("notifications", "0004_encrypt_webhook_secrets")]
    executor.migrate(before)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO notifications_webhooksubscription "
                "(id, client_id, url, secret, events, description, active, created_at) "
                "VALUES ('sub-old', 'c-1', 'https://hooks.example.com/old', 'whsec_from_before', '[]', '', true, "
                "CURRENT_TIMESTAMP)"
            )
        executor = MigrationExecutor(connection)
        executor.migrate(after)
        with connection.cursor() as cursor:
            cursor.execute("SELECT secret_encrypted FROM notifications_webhooksubscription WHERE id = 'sub-old'")
            [(token,)] = cursor.fetchall()
        assert "whsec_from_before" not in token
        assert secret_store.decrypt(token) == "whsec_from_before"

        executor = MigrationExecutor(connection)
        executor.migrate(before)
        with connection.cursor() as cursor:
            cursor.execute("SELECT secret FROM notifications_webhooksubscription WHERE id = 'sub-old'")
            assert cursor.fetchall() == [("whsec_from_before",)]
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes("notifications"))

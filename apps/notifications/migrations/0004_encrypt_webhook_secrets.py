"""Signing secrets are stored encrypted under WEBHOOK_SECRET_KEYS (the first key), and the
plain column goes. Reversible: going back decrypts them into the plain column again.

The keys come from the settings at the time the migration runs; nothing here imports the
app's code, so later changes to it cannot change what this migration does.
"""

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import migrations, models


def _fernet() -> MultiFernet:
    keys = list(getattr(settings, "WEBHOOK_SECRET_KEYS", []))
    if not keys:
        raise ImproperlyConfigured("Set WEBHOOK_SECRET_KEYS before migrating: webhook secrets are encrypted with it.")
    return MultiFernet([Fernet(key) for key in keys])


def encrypt_secrets(apps, schema_editor):  # type: ignore[no-untyped-def]
    WebhookSubscription = apps.get_model("notifications", "WebhookSubscription")
    subscriptions = WebhookSubscription.objects.filter(secret_encrypted="")
    if not subscriptions.exists():
        return
    fernet = _fernet()
    for subscription in subscriptions.iterator():
        subscription.secret_encrypted = fernet.encrypt(subscription.secret.encode()).decode()
        subscription.save(update_fields=["secret_encrypted"])


def decrypt_secrets(apps, schema_editor):  # type: ignore[no-untyped-def]
    WebhookSubscription = apps.get_model("notifications", "WebhookSubscription")
    subscriptions = WebhookSubscription.objects.exclude(secret_encrypted="")
    if not subscriptions.exists():
        return
    fernet = _fernet()
    for subscription in subscriptions.iterator():
        subscription.secret = fernet.decrypt(subscription.secret_encrypted.encode()).decode()
        subscription.save(update_fields=["secret"])


class Migration(migrations.Migration):
    dependencies = [("notifications", "0003_delivery_outcomes")]

    operations = [
        migrations.AddField(
            model_name="webhooksubscription",
            name="secret_encrypted",
            field=models.TextField(
                default="",
                help_text="The HMAC-SHA256 signing secret, encrypted with WEBHOOK_SECRET_KEYS; never shown.",
            ),
            preserve_default=False,
        ),
        # Reversing restores the plain column (below) before decrypting into it.
        migrations.AlterField(
            model_name="webhooksubscription",
            name="secret",
            field=models.CharField(blank=True, default="", max_length=100),
        ),
        migrations.RunPython(encrypt_secrets, decrypt_secrets),
        migrations.RemoveField(model_name="webhooksubscription", name="secret"),
        migrations.AlterModelOptions(
            name="webhooksubscription",
            options={
                "ordering": ["-created_at"],
                "permissions": [
                    ("rotate_secret", "Can rotate a webhook subscription's signing secret (and see the new one)")
                ],
                "verbose_name": "webhook subscription",
            },
        ),
    ]

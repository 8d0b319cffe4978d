"""``manage.py reencrypt_webhook_secrets``: encrypt every webhook signing secret again under
the first key of ``WEBHOOK_SECRET_KEYS`` — the middle step of a key rotation (put the new
key first; run this; then remove the old key). Idempotent; safe to run while deliveries go
on (a delivery reads whichever ciphertext is stored, and every configured key opens both).
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.notifications.services import subscription_secrets_reencrypt


class Command(BaseCommand):
    help = "Re-encrypt every webhook signing secret under the first key of WEBHOOK_SECRET_KEYS."

    def handle(self, *args: Any, **options: Any) -> None:
        done, unreadable = subscription_secrets_reencrypt()
        self.stdout.write(f"Re-encrypted {done} webhook signing secret(s) under the first key.")
        if unreadable:
            raise CommandError(
                f"{unreadable} secret(s) could not be decrypted with any configured key: keep the key they were "
                "encrypted with in WEBHOOK_SECRET_KEYS (the logs name their subscriptions), or rotate their "
                "secrets in the admin."
            )

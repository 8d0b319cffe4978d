"""Pruning idempotency keys: a key answers retries for a day (as Stripe's do)."""

from datetime import datetime

from apps.intake.models import IdempotencyKey


def idempotency_keys_prune(*, older_than: datetime) -> int:
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=older_than).delete()
    return deleted

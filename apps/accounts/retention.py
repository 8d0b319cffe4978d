"""Pruning quota buckets nobody used for the window (an Organization Bespoke no longer
creates accounts in): an idle bucket has refilled to its burst, and is made again, full,
when next needed."""

from datetime import datetime

from apps.accounts.models import QuotaBucket


def quota_buckets_prune(*, older_than: datetime) -> int:
    deleted, _ = QuotaBucket.objects.filter(updated_at__lt=older_than).delete()
    return deleted

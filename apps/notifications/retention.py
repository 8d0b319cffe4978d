"""Pruning webhook deliveries: finished ones (succeeded or failed) older than the window.
Pending deliveries are kept whatever their age."""

from datetime import datetime

from apps.notifications.contracts import FAILED, SUCCEEDED
from apps.notifications.models import WebhookDelivery


def deliveries_prune(*, older_than: datetime) -> int:
    deleted, _ = WebhookDelivery.objects.filter(state__in=(SUCCEEDED, FAILED), created_at__lt=older_than).delete()
    return deleted

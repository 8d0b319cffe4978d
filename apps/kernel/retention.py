"""Pruning the kernel's tables: published outbox messages, inbox entries and released step
leases older than their windows. Unpublished messages, and those parked as dead letters,
are kept."""

from datetime import datetime

from django.db.models import Q

from apps.kernel.models import OutboxMessage, ProcessedMessage, StepLease
from apps.kernel.outbox import NO_SUBSCRIBERS


def outbox_prune(*, older_than: datetime) -> int:
    """Delete messages published (or parked because nobody listens) before ``older_than``."""
    deleted, _ = OutboxMessage.objects.filter(
        Q(published_at__lt=older_than) | Q(parked_as=NO_SUBSCRIBERS, parked_at__lt=older_than)
    ).delete()
    return deleted


def inbox_prune(*, older_than: datetime) -> int:
    """Delete inbox entries (and released step leases) from before ``older_than``: a message
    delivered again after that would be applied again, so the window must be longer than
    any redelivery can take."""
    deleted, _ = ProcessedMessage.objects.filter(processed_at__lt=older_than).delete()
    StepLease.objects.filter(released_at__lt=older_than).delete()
    return deleted

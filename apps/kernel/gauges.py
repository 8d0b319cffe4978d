"""The kernel's gauges, read when metrics are exported: how far the outbox lags and how
many dead letters wait for an operator."""

from collections.abc import Iterable

from apps.kernel import clock
from apps.kernel.metrics import Sample
from apps.kernel.models import DeadLetter, OutboxMessage


def outbox_lag() -> Iterable[Sample]:
    oldest = (
        OutboxMessage.objects.filter(published_at__isnull=True)
        .order_by("recorded_at")
        .values_list("recorded_at", flat=True)
        .first()
    )
    return [({}, max(0.0, (clock.now() - oldest).total_seconds()) if oldest else 0.0)]


def dead_letters_open() -> Iterable[Sample]:
    return [({}, float(DeadLetter.objects.filter(state=DeadLetter.State.OPEN).count()))]

from django.db.models import OuterRef, QuerySet, Subquery

from apps.notifications.contracts import WebhookDeliverySummary, WebhookSubscriptionSummary
from apps.notifications.models import WebhookDelivery, WebhookSubscription

LATEST_DELIVERIES = 20


def summarize_subscription(subscription: WebhookSubscription) -> WebhookSubscriptionSummary:
    return WebhookSubscriptionSummary(
        id=subscription.id,
        client_id=subscription.client_id,
        url=subscription.url,
        events=tuple(subscription.events),
        description=subscription.description,
        active=subscription.active,
        created_at=subscription.created_at,
        last_outcome=getattr(subscription, "latest_outcome", None) or "",
        last_attempt_at=getattr(subscription, "latest_attempt_at", None),
    )


def summarize_delivery(delivery: WebhookDelivery) -> WebhookDeliverySummary:
    # ``last_error`` (the detail) stays behind: it is for operators, never for clients.
    return WebhookDeliverySummary(
        id=delivery.id,
        subscription_id=delivery.subscription_id,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        payload=delivery.payload,
        state=delivery.state,
        attempts=delivery.attempts,
        last_status_code=delivery.last_status_code,
        last_outcome=delivery.last_outcome,
        created_at=delivery.created_at,
        delivered_at=delivery.delivered_at,
    )


def _with_last_outcome(subscriptions: "QuerySet[WebhookSubscription]") -> "QuerySet[WebhookSubscription]":
    """Each subscription with what its latest attempt (of any delivery) came to."""
    latest = WebhookDelivery.objects.filter(subscription=OuterRef("pk"), last_attempt_at__isnull=False).order_by(
        "-last_attempt_at", "-id"
    )
    return subscriptions.annotate(
        latest_outcome=Subquery(latest.values("last_outcome")[:1]),
        latest_attempt_at=Subquery(latest.values("last_attempt_at")[:1]),
    )


def subscription_list(*, client_id: str, active_only: bool = False) -> list[WebhookSubscriptionSummary]:
    """The client's subscriptions, newest first (deactivated ones too, unless ``active_only``)."""
    queryset = WebhookSubscription.objects.filter(client_id=client_id)
    if active_only:
        queryset = queryset.filter(active=True)
    subscriptions = _with_last_outcome(queryset)
    return [summarize_subscription(s) for s in subscriptions]


def subscription_get(
    *, subscription_id: str, client_id: str | None, active_only: bool = False
) -> WebhookSubscriptionSummary | None:
    """A subscription, if ``client_id`` (None: anyone) owns it (and, with ``active_only``,
    it is not deactivated)."""
    queryset = WebhookSubscription.objects.filter(id=subscription_id)
    if client_id is not None:
        queryset = queryset.filter(client_id=client_id)
    if active_only:
        queryset = queryset.filter(active=True)
    subscription = _with_last_outcome(queryset).first()
    return summarize_subscription(subscription) if subscription else None


def subscriptions_wanting(*, event_type: str) -> list[WebhookSubscription]:
    """Active subscriptions that asked for ``event_type`` (or for every type).

    Filtered in Python: a JSON "contains" lookup is not portable to SQLite, and the
    active subscriptions are few.
    """
    return [s for s in WebhookSubscription.objects.filter(active=True).order_by("created_at") if s.wants(event_type)]


def delivery_list(*, subscription_id: str, limit: int, offset: int = 0) -> tuple[int, list[WebhookDeliverySummary]]:
    """A subscription's deliveries, newest first, and how many there are."""
    queryset = WebhookDelivery.objects.filter(subscription_id=subscription_id).order_by("-created_at", "-id")
    return queryset.count(), [summarize_delivery(d) for d in queryset[offset : offset + limit]]


def delivery_get(*, delivery_id: str) -> WebhookDeliverySummary | None:
    delivery = WebhookDelivery.objects.filter(id=delivery_id).first()
    return summarize_delivery(delivery) if delivery else None

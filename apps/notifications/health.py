"""A subscription's health: a receiver that keeps failing is marked unhealthy (operators
are alerted), then disabled.

A subscription is *failing* from its first failed attempt after a success until the next
success. Failing for ``WEBHOOK_UNHEALTHY_AFTER_SECONDS`` marks it unhealthy; for
``WEBHOOK_DISABLE_AFTER_SECONDS``, disables it (``active`` off: its pending deliveries end
as ``subscription_inactive``). Each change is logged as an error and emailed to
``OPERATOR_EMAILS``, once (the conditional updates let one worker make it).
"""

from datetime import datetime, timedelta

import structlog
from django.conf import settings
from django.core.mail import EmailMessage

from apps.notifications.models import WebhookSubscription

log = structlog.get_logger(__name__)


def note_success(*, subscription_id: str) -> None:
    WebhookSubscription.objects.filter(id=subscription_id, failing_since__isnull=False).update(
        failing_since=None, unhealthy_since=None
    )


def note_failure(*, subscription_id: str, now: datetime) -> None:
    WebhookSubscription.objects.filter(id=subscription_id, failing_since__isnull=True).update(failing_since=now)
    subscription = WebhookSubscription.objects.filter(id=subscription_id).first()
    if subscription is None or subscription.failing_since is None:
        return
    failing = now - subscription.failing_since
    if failing >= timedelta(seconds=settings.WEBHOOK_UNHEALTHY_AFTER_SECONDS) and (
        WebhookSubscription.objects.filter(id=subscription_id, unhealthy_since__isnull=True).update(unhealthy_since=now)
    ):
        _alert(subscription, "unhealthy", failing)
    if failing >= timedelta(seconds=settings.WEBHOOK_DISABLE_AFTER_SECONDS) and (
        WebhookSubscription.objects.filter(id=subscription_id, active=True).update(active=False, disabled_at=now)
    ):
        _alert(subscription, "disabled", failing)


def _alert(subscription: WebhookSubscription, state: str, failing: timedelta) -> None:
    hours = round(failing.total_seconds() / 3600, 1)
    log.error(
        f"webhook.subscription_{state}",
        subscription_id=subscription.id,
        client_id=subscription.client_id,
        url=subscription.url,
        failing_hours=hours,
    )
    recipients = list(getattr(settings, "OPERATOR_EMAILS", []))
    if not recipients:
        return
    what = "is marked unhealthy" if state == "unhealthy" else "was disabled (its pending deliveries are dropped)"
    message = EmailMessage(
        subject=f"[Bespoke] Webhook subscription {state}: {subscription.url}",
        body=(
            f"Webhook subscription {subscription.id} of client {subscription.client_id} ({subscription.url}) "
            f"{what}: every delivery to it has failed for {hours} hours.\n"
        ),
        from_email=str(getattr(settings, "NOTIFICATIONS_FROM_EMAIL", "bespoke@example.com")),
        to=recipients,
    )
    try:
        message.send()
    except Exception:  # the alert is also in the log; the delivery's outcome must still be recorded
        log.exception("webhook.subscription_alert_not_sent", subscription_id=subscription.id)

"""The notifications context's writes: webhook subscriptions and deliveries
(``webhooks``), and emails (``emails``)."""

from apps.notifications.services.emails import (
    operators_alert_dead_letter,
    outcome_email_send,
    ready_email_send,
    sender_verify,
)
from apps.notifications.services.webhooks import (
    InvalidSubscription,
    deliveries_create_for_event,
    delivery_redeliver,
    subscription_create,
    subscription_deactivate,
    subscription_rotate_secret,
    subscription_secrets_reencrypt,
)

__all__ = [
    "InvalidSubscription",
    "deliveries_create_for_event",
    "delivery_redeliver",
    "operators_alert_dead_letter",
    "outcome_email_send",
    "ready_email_send",
    "sender_verify",
    "subscription_create",
    "subscription_deactivate",
    "subscription_rotate_secret",
    "subscription_secrets_reencrypt",
]

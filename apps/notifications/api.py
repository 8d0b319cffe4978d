"""The notifications context's public surface."""

from apps.notifications.contracts import (
    WEBHOOK_EVENT_TYPES,
    DeliverWebhook,
    IssuedWebhookSubscription,
    WebhookDeliverySummary,
    WebhookSubscriptionSummary,
)
from apps.notifications.delivery import webhook_body
from apps.notifications.retention import deliveries_prune
from apps.notifications.selectors import delivery_get, delivery_list, subscription_get, subscription_list
from apps.notifications.services import delivery_redeliver, sender_verify, subscription_create, subscription_deactivate
from apps.notifications.signing import new_secret, sign, signature_header, verify_signature

__all__ = [
    "WEBHOOK_EVENT_TYPES",
    "DeliverWebhook",
    "IssuedWebhookSubscription",
    "WebhookDeliverySummary",
    "WebhookSubscriptionSummary",
    "deliveries_prune",
    "delivery_get",
    "delivery_list",
    "delivery_redeliver",
    "new_secret",
    "sender_verify",
    "sign",
    "signature_header",
    "subscription_create",
    "subscription_deactivate",
    "subscription_get",
    "subscription_list",
    "verify_signature",
    "webhook_body",
]

"""Webhook subscriptions, and the deliveries an event becomes.

A subscription's URL must be reachable under the egress guard (https, a public address);
its signing secret is stored encrypted and returned once, when it is made. An event
becomes one ``WebhookDelivery`` per subscription that wants it *and whose client may hear
of it* (``audience``), unique per subscription and event (a redelivered event finds its
delivery), and a ``DeliverWebhook`` command recorded in the same transaction. Delivering
is ``delivery.webhook_deliver``.
"""

from collections.abc import Sequence
from typing import Any

import structlog
from django.db import transaction

from apps.accounts.contracts import AccountDrifted, GuardrailDrifted
from apps.clients import api as clients
from apps.compliance.contracts import AccountNonCompliant
from apps.kernel import clock, ids
from apps.kernel.contracts import DeadLetterCreated, StepFailed, StepSucceeded
from apps.kernel.errors import ApplicationError, NotFound
from apps.kernel.outbox import record
from apps.notifications import secret_store, signing
from apps.notifications.audience import audience_of
from apps.notifications.contracts import (
    FAILED,
    PENDING,
    WEBHOOK_EVENT_TYPES,
    WEBHOOK_TYPE_OF_MESSAGE,
    DeliverWebhook,
    IssuedWebhookSubscription,
)
from apps.notifications.delivery import webhook_url_problem
from apps.notifications.models import WebhookDelivery, WebhookSubscription
from apps.notifications.selectors import subscriptions_wanting, summarize_subscription
from apps.workflow import api as workflow

log = structlog.get_logger(__name__)

RunEvent = (
    workflow.RunStarted
    | StepSucceeded
    | StepFailed
    | workflow.RunSucceeded
    | workflow.RunFailed
    | workflow.RunCancelled
    | DeadLetterCreated
    | AccountNonCompliant
    | AccountDrifted
    | GuardrailDrifted
)


class InvalidSubscription(ApplicationError):
    code = "validation_error"


# --- Subscriptions -----------------------------------------------------------------------


def subscription_create(
    *, client_id: str, url: str, events: Sequence[str] = (), description: str = ""
) -> IssuedWebhookSubscription:
    """A new active subscription with a fresh signing secret (returned here, never again;
    stored encrypted). The URL must pass the egress guard, which resolves its host: that
    happens before anything is written, so no transaction waits on a name server."""
    problems: dict[str, list[str]] = {}
    url_problem = webhook_url_problem(url)
    if url_problem:
        problems["url"] = [url_problem]
    unknown = sorted(set(events) - set(WEBHOOK_EVENT_TYPES))
    if unknown:
        problems["events"] = [f"Unknown event type(s): {', '.join(unknown)}."]
    if problems:
        raise InvalidSubscription("The request is invalid; see extra.fields.", extra={"fields": problems})
    secret = signing.new_secret()
    subscription = WebhookSubscription.objects.create(
        id=ids.new_id(),
        client_id=client_id,
        url=url,
        secret_encrypted=secret_store.encrypt(secret),
        events=list(dict.fromkeys(events)),
        description=description,
        active=True,
        created_at=clock.now(),
    )
    log.info("webhook.subscribed", subscription_id=subscription.id, client_id=client_id, events=subscription.events)
    return IssuedWebhookSubscription(subscription=summarize_subscription(subscription), secret=secret)


@transaction.atomic
def subscription_rotate_secret(*, subscription_id: str) -> str:
    """Give a subscription a new signing secret, effective for every POST from now on
    (retries of earlier deliveries included); the new secret, returned here only."""
    secret = signing.new_secret()
    if not WebhookSubscription.objects.filter(id=subscription_id).update(secret_encrypted=secret_store.encrypt(secret)):
        raise NotFound(f"No webhook subscription {subscription_id}.")
    log.info("webhook.secret_rotated", subscription_id=subscription_id)
    return secret


def subscription_secrets_reencrypt() -> tuple[int, int]:
    """Re-encrypt every signing secret under the first key of ``WEBHOOK_SECRET_KEYS``, one
    row at a time (a failure leaves the rest as they were). (re-encrypted, unreadable):
    an unreadable secret was encrypted with a key no longer configured."""
    done = unreadable = 0
    for subscription_id, token in WebhookSubscription.objects.values_list("id", "secret_encrypted").iterator():
        try:
            fresh = secret_store.reencrypt(token)
        except secret_store.InvalidToken:
            log.error("webhook.secret_unreadable", subscription_id=subscription_id)
            unreadable += 1
            continue
        WebhookSubscription.objects.filter(id=subscription_id, secret_encrypted=token).update(secret_encrypted=fresh)
        done += 1
    return done, unreadable


@transaction.atomic
def subscription_deactivate(*, subscription_id: str, client_id: str | None) -> None:
    """Stop delivering to a subscription (idempotent). ``client_id`` must own it (None: anyone)."""
    queryset = WebhookSubscription.objects.filter(id=subscription_id)
    if client_id is not None:
        queryset = queryset.filter(client_id=client_id)
    if not queryset.exists():
        raise NotFound(f"No webhook subscription {subscription_id}.")
    queryset.update(active=False)
    log.info("webhook.deactivated", subscription_id=subscription_id)


# --- Deliveries: from events --------------------------------------------------------------


def webhook_payload(event: RunEvent, *, event_type: str) -> dict[str, Any]:
    """What subscribers receive for ``event``: ``{"id", "type", "created_at", "data"}``."""
    return {
        "id": event.message_id,
        "type": event_type,
        "created_at": event.occurred_at.isoformat(),
        "data": _webhook_data(event),
    }


def _webhook_data(event: RunEvent) -> dict[str, Any]:
    if isinstance(event, DeadLetterCreated):
        return {
            "dead_letter_id": event.dead_letter_id,
            "handler": event.handler,
            "message_type": event.message_type,
            "error_code": event.error_code,
            "error": event.error,
            "attempts": event.attempts,
        }
    if isinstance(event, AccountNonCompliant):
        return {
            "account_id": event.aws_account_id,
            "payer": event.payer,
            "snapshot_id": event.snapshot_id,
            "non_compliant_rules": list(event.rules),
            "new_non_compliant_rules": list(event.new_rules),
        }
    if isinstance(event, AccountDrifted):
        return {"account_id": event.aws_account_id, "payer": event.payer, "kind": event.kind, "detail": event.detail}
    if isinstance(event, GuardrailDrifted):
        return {
            "account_id": event.aws_account_id or None,
            "payer": event.payer,
            "guardrail": event.guardrail,
            "subject": event.subject,
            "problems": list(event.problems),
        }
    data: dict[str, Any] = {"run_id": event.run_id}
    if isinstance(event, StepSucceeded | StepFailed):
        run = workflow.run_get(run_id=event.run_id)
        data["request_id"] = run.request_id if run else None
        data["step"] = event.step
        data["attempts"] = event.attempts
    else:
        data["request_id"] = event.request_id
    if isinstance(event, workflow.RunFailed):
        data["step"] = event.step
    if isinstance(event, workflow.RunCancelled):
        data["reason"] = event.reason
    if isinstance(event, StepFailed | workflow.RunFailed):
        data["error_code"] = event.error_code
        data["message"] = event.message
    if isinstance(event, StepSucceeded | workflow.RunSucceeded):
        data["outputs"] = event.outputs
    return data


# In its handler's transaction, with the inbox claim: an error rolls all of it back, so a
# savepoint of its own would only cost two statements.
@transaction.atomic(savepoint=False)
def deliveries_create_for_event(*, event: RunEvent) -> int:
    """One delivery per active subscription that wants the event and whose client may hear
    of it (``audience``), and its ``DeliverWebhook``.

    Idempotent: deliveries are unique per (subscription, event id), and a command is
    recorded only for a delivery this call created. Returns how many it created.
    """
    event_type = WEBHOOK_TYPE_OF_MESSAGE.get(event.type_name())
    if event_type is None:
        return 0
    subscriptions = subscriptions_wanting(event_type=event_type)
    if not subscriptions:
        return 0
    audience = audience_of(event)
    subscribers: dict[str, clients.ClientSummary | None] = {}
    payload: dict[str, Any] | None = None
    now = clock.now()
    created_count = 0
    for subscription in subscriptions:
        if subscription.client_id not in subscribers:
            subscribers[subscription.client_id] = clients.client_get(client_id=subscription.client_id)
        client = subscribers[subscription.client_id]
        if client is None or not audience.admits(client):
            continue
        payload = payload or webhook_payload(event, event_type=event_type)
        delivery, created = WebhookDelivery.objects.get_or_create(
            subscription=subscription,
            event_id=event.message_id,
            defaults={"id": ids.new_id(), "event_type": event_type, "payload": payload, "created_at": now},
        )
        if created:
            record(DeliverWebhook(delivery_id=delivery.id))
            created_count += 1
    return created_count


@transaction.atomic
def delivery_redeliver(*, delivery_id: str) -> bool:
    """Try a failed delivery again (an operator's redrive). False if it had not failed."""
    if not WebhookDelivery.objects.filter(id=delivery_id, state=FAILED).update(state=PENDING):
        return False
    record(DeliverWebhook(delivery_id=delivery_id))
    return True

"""POSTing webhook deliveries: signed JSON, through the egress guard, one attempt at a time.

Every attempt goes through ``apps.kernel.egress``: the subscription's URL is checked again
(the address its host resolves to *now* must be public, or in ``WEBHOOK_ALLOWED_NETWORKS``),
the connection goes to the address checked, and redirects are not followed. What the
attempt came to is recorded twice: as a category clients may see (``last_outcome``:
``http_<status>``, ``redirect``, ``timeout``, ``connection_failed``, ``tls_error``,
``refused_address``…) and in detail for operators (``last_error``, the admin and the logs).
"""

import json
from dataclasses import dataclass
from typing import Any

import structlog
from django.conf import settings
from django.db.models import F

from apps.kernel import clock, egress, metrics
from apps.kernel.errors import RetryableError
from apps.kernel.steps import RetryLater
from apps.notifications import secret_store, signing
from apps.notifications.contracts import (
    FAILED,
    OUTCOME_NOT_SENT,
    OUTCOME_REDIRECT,
    OUTCOME_SUBSCRIPTION_INACTIVE,
    PENDING,
    SUCCEEDED,
    http_outcome,
)
from apps.notifications.models import WebhookDelivery

log = structlog.get_logger(__name__)

USER_AGENT = "Bespoke-Webhooks/1"
_MAX_ERROR_LENGTH = 2000


def webhook_policy() -> egress.Policy:
    """Where webhooks may go: ``WEBHOOK_REQUIRE_HTTPS``, public addresses and
    ``WEBHOOK_ALLOWED_NETWORKS``."""
    return egress.Policy.build(
        require_https=bool(getattr(settings, "WEBHOOK_REQUIRE_HTTPS", True)),
        allowed_networks=list(getattr(settings, "WEBHOOK_ALLOWED_NETWORKS", [])),
    )


def webhook_url_problem(url: str) -> str | None:
    """Why ``url`` can't receive webhooks (None if it can), in words for whoever gave it."""
    return egress.url_problem(url, policy=webhook_policy())


def webhook_body(payload: dict[str, Any]) -> bytes:
    """The exact bytes POSTed and signed: JSON, serialized once (never by concatenation)."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode("utf-8")


@dataclass(frozen=True)
class Attempt:
    """One attempt: ``outcome`` for the client, ``detail`` for operators, ``code`` for the
    retry (and the dead letter, should every attempt fail)."""

    outcome: str
    status: int | None = None
    detail: str = ""
    code: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def post_signed(url: str, *, body: bytes, headers: dict[str, str]) -> Attempt:
    """One POST through the egress guard, no redirects followed, no retries of its own."""
    timeout = float(getattr(settings, "WEBHOOK_TIMEOUT_SECONDS", 5))
    try:
        answer = egress.post(url, body=body, headers=headers, timeout=timeout, policy=webhook_policy())
    except egress.EgressError as error:
        return Attempt(outcome=error.category, detail=error.detail, code=f"webhook_{error.category}")
    outcome = http_outcome(answer.status)
    if 200 <= answer.status < 300:
        return Attempt(outcome=outcome, status=answer.status)
    detail = f"The receiver ({answer.address}) answered HTTP {answer.status}."
    code = "webhook_redirect" if outcome == OUTCOME_REDIRECT else "webhook_http_error"
    return Attempt(outcome=outcome, status=answer.status, detail=detail, code=code)


def webhook_deliver(*, delivery_id: str, attempt: int, retry_delay: float | None) -> None:
    """POST a delivery to its subscriber and record the attempt.

    Not one transaction: the POST happens outside any (it cannot be rolled back, and a
    slow receiver must not hold locks), and each attempt's outcome is committed on its
    own before ``RetryLater`` is raised. A delivery that already succeeded (or failed for
    good) is left alone, so a redelivered command POSTs nothing. ``retry_delay`` is None
    on the last attempt: a failure then marks the delivery failed.
    """
    delivery = WebhookDelivery.objects.select_related("subscription").filter(id=delivery_id).first()
    if delivery is None:
        log.warning("webhook.unknown_delivery", delivery_id=delivery_id)
        return
    if delivery.state != PENDING:
        log.info("webhook.delivery_already_done", delivery_id=delivery_id, state=delivery.state)
        return
    subscription = delivery.subscription
    if not subscription.active:
        WebhookDelivery.objects.filter(id=delivery_id, state=PENDING).update(
            state=FAILED,
            last_outcome=OUTCOME_SUBSCRIPTION_INACTIVE,
            last_error="Not delivered: the subscription was deactivated.",
        )
        return
    outcome = _attempt(delivery)
    metrics.inc("bespoke_webhook_deliveries", outcome=outcome.outcome)
    now = clock.now()
    if outcome.ok:
        WebhookDelivery.objects.filter(id=delivery_id, state=PENDING).update(
            state=SUCCEEDED,
            attempts=F("attempts") + 1,
            last_status_code=outcome.status,
            last_outcome=outcome.outcome,
            last_error="",
            last_attempt_at=now,
            delivered_at=now,
        )
        log.info("webhook.delivered", delivery_id=delivery_id, status=outcome.status, attempt=attempt)
        return
    WebhookDelivery.objects.filter(id=delivery_id, state=PENDING).update(
        state=FAILED if retry_delay is None else PENDING,
        attempts=F("attempts") + 1,
        last_status_code=outcome.status,
        last_outcome=outcome.outcome,
        last_error=outcome.detail[:_MAX_ERROR_LENGTH],
        last_attempt_at=now,
    )
    context = {"delivery_id": delivery_id, "outcome": outcome.outcome, "error": outcome.detail, "attempt": attempt}
    if retry_delay is None:
        log.warning("webhook.delivery_failed", **context)
        return
    log.info("webhook.delivery_retrying", retry_in=retry_delay, **context)
    raise RetryLater(
        RetryableError(f"Webhook delivery {delivery_id}: {outcome.detail}", code=outcome.code), retry_delay
    )


def _attempt(delivery: WebhookDelivery) -> Attempt:
    subscription = delivery.subscription
    try:
        secret = secret_store.decrypt(subscription.secret_encrypted)
    except secret_store.InvalidToken:
        # Its key left WEBHOOK_SECRET_KEYS before it was re-encrypted: an operator's to fix.
        return Attempt(
            outcome=OUTCOME_NOT_SENT,
            detail="The signing secret can't be decrypted with any key in WEBHOOK_SECRET_KEYS.",
            code="webhook_secret_unreadable",
        )
    body = webhook_body(delivery.payload)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Bespoke-Event": delivery.event_type,
        "Bespoke-Delivery": delivery.id,
        "Bespoke-Signature": signing.signature_header(secret, body),
    }
    return post_signed(subscription.url, body=body, headers=headers)

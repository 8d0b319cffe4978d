"""The notifications context's command and read models.

Webhook event types are what subscribers see (``run.succeeded``), not our internal
message names (``RunSucceeded``): the wire format must not change when we rename code.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from apps.kernel.contracts import Command

RUN_STARTED = "run.started"
STEP_SUCCEEDED = "step.succeeded"
STEP_FAILED = "step.failed"
RUN_SUCCEEDED = "run.succeeded"
RUN_FAILED = "run.failed"
RUN_CANCELLED = "run.cancelled"
DEAD_LETTER_CREATED = "dead_letter.created"
ACCOUNT_NON_COMPLIANT = "account.non_compliant"
ACCOUNT_DRIFTED = "account.drifted"
WEBHOOK_EVENT_TYPES: tuple[str, ...] = (
    RUN_STARTED,
    STEP_SUCCEEDED,
    STEP_FAILED,
    RUN_SUCCEEDED,
    RUN_FAILED,
    RUN_CANCELLED,
    DEAD_LETTER_CREATED,
    ACCOUNT_NON_COMPLIANT,
    ACCOUNT_DRIFTED,
)

# The internal events each webhook type is made from.
WEBHOOK_TYPE_OF_MESSAGE: dict[str, str] = {
    "RunStarted": RUN_STARTED,
    "StepSucceeded": STEP_SUCCEEDED,
    "StepFailed": STEP_FAILED,
    "RunSucceeded": RUN_SUCCEEDED,
    "RunFailed": RUN_FAILED,
    "RunCancelled": RUN_CANCELLED,
    "DeadLetterCreated": DEAD_LETTER_CREATED,
    "AccountNonCompliant": ACCOUNT_NON_COMPLIANT,
    "AccountDrifted": ACCOUNT_DRIFTED,
}

# Delivery states.
PENDING = "pending"
SUCCEEDED = "succeeded"
FAILED = "failed"
DELIVERY_STATES: tuple[str, ...] = (PENDING, SUCCEEDED, FAILED)

# Email outcomes: one email per outcome per request.
OUTCOME_SUCCEEDED = "succeeded"
OUTCOME_FAILED = "failed"
OUTCOMES: tuple[str, ...] = (OUTCOME_SUCCEEDED, OUTCOME_FAILED)


@dataclass(frozen=True, kw_only=True)
class DeliverWebhook(Command):
    """POST one webhook delivery to its subscriber (retried with back-off until it answers 2xx)."""

    delivery_id: str

    def aggregate_id(self) -> str:
        return self.delivery_id


@dataclass(frozen=True)
class WebhookSubscriptionSummary:
    id: str
    client_id: str
    url: str
    events: tuple[str, ...]  # empty: every event type
    description: str
    active: bool
    created_at: datetime


@dataclass(frozen=True)
class IssuedWebhookSubscription:
    """A new subscription and its signing secret, which is shown only this once."""

    subscription: WebhookSubscriptionSummary
    secret: str


@dataclass(frozen=True)
class WebhookDeliverySummary:
    id: str
    subscription_id: str
    event_id: str
    event_type: str
    payload: dict[str, Any]
    state: str
    attempts: int
    last_status_code: int | None
    last_error: str
    created_at: datetime
    delivered_at: datetime | None

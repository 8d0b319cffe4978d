"""The notifications context's command and read models.

Webhook event types are what subscribers see (``run.succeeded``), not our internal
message names (``RunSucceeded``): the wire format must not change when we rename code.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from apps.kernel.contracts import Command, StepDeclaration

RUN_STARTED = "run.started"
STEP_SUCCEEDED = "step.succeeded"
STEP_FAILED = "step.failed"
RUN_SUCCEEDED = "run.succeeded"
RUN_FAILED = "run.failed"
RUN_CANCELLED = "run.cancelled"
DEAD_LETTER_CREATED = "dead_letter.created"
ACCOUNT_NON_COMPLIANT = "account.non_compliant"
ACCOUNT_DRIFTED = "account.drifted"
GUARDRAIL_DRIFTED = "guardrail.drifted"
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
    GUARDRAIL_DRIFTED,
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
    "GuardrailDrifted": GUARDRAIL_DRIFTED,
}

# Delivery states.
PENDING = "pending"
SUCCEEDED = "succeeded"
FAILED = "failed"
DELIVERY_STATES: tuple[str, ...] = (PENDING, SUCCEEDED, FAILED)

# What a delivery attempt came to, as clients see it (the deliveries API, a subscription's
# last outcome): a category, never the receiver's or the network's own words, which stay
# in the admin and the logs. An answer is ``http_<status>`` (``http_200``: delivered).
OUTCOME_TIMEOUT = "timeout"
OUTCOME_CONNECTION_FAILED = "connection_failed"
OUTCOME_TLS_ERROR = "tls_error"
OUTCOME_REFUSED_ADDRESS = "refused_address"
OUTCOME_REDIRECT = "redirect"
OUTCOME_SUBSCRIPTION_INACTIVE = "subscription_inactive"
OUTCOME_NOT_SENT = "not_sent"
_OUTCOME_DESCRIPTIONS = {
    OUTCOME_TIMEOUT: "The receiver did not answer in time.",
    OUTCOME_CONNECTION_FAILED: "No connection could be made to the receiver.",
    OUTCOME_TLS_ERROR: "The receiver's TLS handshake or certificate was refused.",
    OUTCOME_REFUSED_ADDRESS: "Not sent: the URL's host is not (or no longer) at a public address.",
    OUTCOME_REDIRECT: "The receiver answered with a redirect, which is not followed.",
    OUTCOME_SUBSCRIPTION_INACTIVE: "Not sent: the subscription was deactivated.",
    OUTCOME_NOT_SENT: "Not sent: Bespoke could not sign the delivery; it is tried again.",
}


def http_outcome(status: int) -> str:
    """The outcome of an answer: ``redirect`` for a 3xx (never followed), else ``http_<status>``."""
    return OUTCOME_REDIRECT if 300 <= status < 400 else f"http_{status}"


def outcome_description(outcome: str) -> str | None:
    """What clients read about an outcome that was not a delivery (None for a 2xx or none yet)."""
    if not outcome:
        return None
    if outcome.startswith("http_"):
        status = outcome.removeprefix("http_")
        return None if status.startswith("2") else f"The receiver answered HTTP {status}."
    return _OUTCOME_DESCRIPTIONS.get(outcome, "The delivery failed.")


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
    last_outcome: str = ""  # of the latest attempt to deliver anything ("": none yet)
    last_attempt_at: datetime | None = None


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
    last_outcome: str  # a category (see the OUTCOME_* above); "" before the first attempt
    created_at: datetime
    delivered_at: datetime | None


# --- The steps this context runs (apps/notifications/steps.py) ------------------------

_INTEGRATIONS = "apps.notifications.integrations.steps"


def _http_step(name: str, legacy_name: str) -> StepDeclaration:
    """A step of kind ``http`` (an integration outside AWS): it needs the account's id."""
    return StepDeclaration(
        name=name,
        context="notifications",
        legacy_name=legacy_name,
        run=f"{_INTEGRATIONS}:http_step",
        depends_on=("wait_account",),
        default_params=f"{_INTEGRATIONS}:{name.upper()}_DEFAULT_PARAMS",
        check_params=f"{_INTEGRATIONS}:check_params",
        describe=f"{_INTEGRATIONS}:describe",
    )


STEPS: tuple[StepDeclaration, ...] = (
    _http_step("ad_distribution_list", "AD_DL"),
    _http_step("ad_security_groups", "AD_SEC_GROUPS"),
    _http_step("cloudability", "CLOUDABILITY"),
    StepDeclaration(
        name="notify",
        context="notifications",
        legacy_name="NOTIFY",
        run="apps.notifications.steps:notify",
        # Its place is last: a blueprint lists the steps it follows (``depends_on``).
        depends_on=("wait_account",),
        describe="apps.notifications.steps:describe_notify",
    ),
)

"""The intake context's events and read models."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from apps.kernel.contracts import Event

# Request statuses, as clients see them.
AWAITING_APPROVAL = "awaiting_approval"  # regulated, for a payer that wants an operator's approval first
ACCEPTED = "accepted"
PROVISIONING = "provisioning"
SUCCEEDED = "succeeded"
FAILED = "failed"
CANCELLED = "cancelled"
STATUSES = (AWAITING_APPROVAL, ACCEPTED, PROVISIONING, SUCCEEDED, FAILED, CANCELLED)
# A failed or cancelled request no longer holds its account email: it may be requested again.
LIVE_STATUSES = (AWAITING_APPROVAL, ACCEPTED, PROVISIONING, SUCCEEDED)


@dataclass(frozen=True, kw_only=True)
class AccountRequested(Event):
    request_id: str
    payer: str
    environment: str
    region: str  # the primary region: the first of ``regions``
    regulated: bool
    account_email: str
    account_name: str
    regions: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    vpc: dict[str, int] = field(default_factory=dict)
    user_access_list: list[str] = field(default_factory=list)
    technical_contact: dict[str, str] = field(default_factory=dict)
    requestor: dict[str, str] = field(default_factory=dict)
    monthly_budget_usd: int | None = None  # the request's own budget (None: its environment's)
    # Resolved by intake when it accepts (or an operator approves) the request, so the
    # workflow starts the run from the event alone: the payer's blueprint for the request
    # (``{"name", "version", "steps"}``; None: a bare account) and the payer's settings
    # every step receives.
    blueprint: dict[str, Any] | None = None
    payer_settings: dict[str, Any] = field(default_factory=dict)

    def aggregate_id(self) -> str:
        return self.request_id

    def run_params(self) -> dict[str, Any]:
        """What every step of the request's run receives as inputs."""
        params = self.payload()
        params.pop("blueprint")
        return params


@dataclass(frozen=True)
class AccountRequestSummary:
    id: str
    client_id: str
    status: str
    payer: str
    environment: str
    region: str
    regulated: bool
    account_email: str
    body: dict[str, Any]
    failure: str
    created_at: datetime
    updated_at: datetime
    approved_by: str = ""
    approved_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class RequestActivity:
    """One request as the operator dashboard counts it: when it arrived and where it stands."""

    request_id: str
    status: str
    created_at: datetime

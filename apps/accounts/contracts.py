"""What other contexts know about payers and managed accounts."""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PayerSummary:
    """A payer as intake validates against it."""

    name: str
    allowed_environments: tuple[str, ...]
    allowed_regions: tuple[str, ...]
    email_division: str
    email_domain: str


@dataclass(frozen=True)
class AccountSummary:
    id: str | None
    email: str
    name: str
    status: str


@dataclass(frozen=True)
class BlueprintPlan:
    """The blueprint a request gets, pinned by version."""

    blueprint_id: str
    name: str
    version: int
    steps: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class AccountCount:
    """How many accounts a payer manages in one environment (for the operator dashboard)."""

    payer: str
    environment: str
    count: int

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
    approval_required_for_regulated: bool = False


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

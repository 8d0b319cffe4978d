"""What other contexts know about payers and managed accounts."""

from dataclasses import dataclass


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

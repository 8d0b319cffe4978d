"""The compliance context's messages and read models (its verify step reports through
the kernel's step protocol)."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from apps.kernel.contracts import VERIFICATION, Event, StepDeclaration

COMPLIANT = "COMPLIANT"
NON_COMPLIANT = "NON_COMPLIANT"


@dataclass(frozen=True, kw_only=True)
class AccountNonCompliant(Event):
    """A member account's Config rules turned non-compliant: ``new_rules`` are the rules
    non-compliant now that were not in its previous snapshot; ``rules`` all that are."""

    snapshot_id: str
    aws_account_id: str
    payer: str
    rules: list[str] = field(default_factory=list)
    new_rules: list[str] = field(default_factory=list)

    def aggregate_id(self) -> str:
        return self.aws_account_id


@dataclass(frozen=True)
class ComplianceSnapshotSummary:
    id: str
    aws_account_id: str
    payer: str
    taken_at: datetime
    compliant: bool
    rules: tuple[dict[str, Any], ...]
    guardrails: tuple[dict[str, Any], ...] = ()


# --- The step this context runs (apps/compliance/steps.py) -----------------------------

STEPS: tuple[StepDeclaration, ...] = (
    StepDeclaration(
        name="verify",
        context="compliance",
        legacy_name="CONFIGURATION_CHECK",
        run="apps.compliance.steps:verify",
        placement=VERIFICATION,
        describe="apps.compliance.steps:describe_verify",
    ),
)

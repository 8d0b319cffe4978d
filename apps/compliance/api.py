"""The compliance context's public surface."""

from apps.compliance.contracts import AccountNonCompliant, ComplianceSnapshotSummary
from apps.compliance.retention import snapshots_prune
from apps.compliance.selectors import snapshots_latest
from apps.compliance.services import compliance_poll, compliance_poll_account

__all__ = [
    "AccountNonCompliant",
    "ComplianceSnapshotSummary",
    "compliance_poll",
    "compliance_poll_account",
    "snapshots_latest",
    "snapshots_prune",
]

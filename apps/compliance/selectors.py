from django.db.models import QuerySet

from apps.accounts import api as accounts
from apps.clients import api as clients
from apps.compliance.contracts import ComplianceSnapshotSummary
from apps.compliance.models import ComplianceSnapshot


def summarize_snapshot(snapshot: ComplianceSnapshot) -> ComplianceSnapshotSummary:
    return ComplianceSnapshotSummary(
        id=snapshot.id,
        aws_account_id=snapshot.aws_account_id,
        payer=snapshot.payer,
        taken_at=snapshot.taken_at,
        compliant=snapshot.compliant,
        rules=tuple(snapshot.rules),
    )


def _latest_ids() -> "QuerySet[ComplianceSnapshot, str]":
    return (
        ComplianceSnapshot.objects.order_by("aws_account_id", "-taken_at")
        .distinct("aws_account_id")
        .values_list("id", flat=True)
    )


def snapshots_latest(
    *, viewer: clients.Principal | None, account: str | None = None, compliant: bool | None = None
) -> list[ComplianceSnapshotSummary]:
    """The latest snapshot of each account ``viewer`` may see (None: Bespoke itself, every
    account), optionally one account's, or only the compliant / non-compliant ones."""
    snapshots = ComplianceSnapshot.objects.filter(id__in=_latest_ids())
    if viewer is not None and not viewer.access.all_payers:
        snapshots = snapshots.filter(aws_account_id__in=accounts.aws_account_ids_visible_to(viewer))
    if account is not None:
        snapshots = snapshots.filter(aws_account_id=account)
    if compliant is not None:
        snapshots = snapshots.filter(compliant=compliant)
    return [summarize_snapshot(snapshot) for snapshot in snapshots.order_by("aws_account_id")]

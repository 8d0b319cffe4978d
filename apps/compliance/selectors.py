from django.db.models import OuterRef, QuerySet, Subquery

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
        guardrails=tuple(snapshot.guardrails),
    )


def _latest_of_each_account() -> "QuerySet[ComplianceSnapshot]":
    """Each account's newest snapshot (a correlated subquery: portable, and served by the
    (account, taken_at) index)."""
    newest = (
        ComplianceSnapshot.objects.filter(aws_account_id=OuterRef("aws_account_id"))
        .order_by("-taken_at", "-id")
        .values("id")[:1]
    )
    return ComplianceSnapshot.objects.filter(id=Subquery(newest))


def snapshots_latest(
    *, viewer: clients.Principal | None, account: str | None = None, compliant: bool | None = None
) -> list[ComplianceSnapshotSummary]:
    """The latest snapshot of each account ``viewer`` may see (None: Bespoke itself, every
    account), optionally one account's, or only the compliant / non-compliant ones."""
    snapshots = _latest_of_each_account()
    if viewer is not None and not viewer.access.all_payers:
        snapshots = snapshots.filter(aws_account_id__in=accounts.aws_account_ids_visible_to(viewer))
    if account is not None:
        snapshots = snapshots.filter(aws_account_id=account)
    if compliant is not None:
        snapshots = snapshots.filter(compliant=compliant)
    return [summarize_snapshot(snapshot) for snapshot in snapshots.order_by("aws_account_id")]

"""Reconciliation: compare each payer's Organization with the accounts Bespoke knows.

Accounts change outside Bespoke: someone closes one in the console, moves it to another
OU, or creates one directly. The reconciler lists the Organization (real Organizations
calls through ``apps.cloud``), and in one transaction per payer marks closed accounts
closed, follows moved accounts to their new OU, records unknown accounts as
``unmanaged``/``discovered``, stamps ``last_seen_at`` on every account it saw, and records
an ``AccountDrifted`` event per change. It then compares the payer's service control
policies with Organizations (``guardrail_drift``): one ``GuardrailDrifted`` per SCP found
detached, edited or deleted outside Bespoke.

Idempotent: every change moves the row to what the Organization shows, so a second pass
over an unchanged Organization finds nothing to change and records no event. The payer's
row is locked for the transaction, so two overlapping passes cannot both discover the
same account.
"""

from dataclasses import dataclass
from typing import Any

import structlog
from django.db import transaction

from apps.accounts.contracts import AccountDrifted, ActiveAccount, ReconcileReport
from apps.accounts.guardrail_drift import scps_reconcile
from apps.accounts.models import ManagedAccount, Payer
from apps.cloud import api as cloud
from apps.kernel import clock, ids
from apps.kernel.errors import StepError
from apps.kernel.outbox import record

log = structlog.get_logger(__name__)

# Organizations' account states that mean the account is closed (or on its way out).
CLOSED_STATES = frozenset({"SUSPENDED", "PENDING_CLOSURE"})

# Accounts whose lifecycle Bespoke's own workflow is driving right now (creating,
# closing) or that are over (failed, closed): the reconciler only stamps when it saw them
# and leaves their status and OU alone.
_LEFT_ALONE = frozenset(
    {
        ManagedAccount.Status.CREATING,
        ManagedAccount.Status.CLOSING,
        ManagedAccount.Status.FAILED,
        ManagedAccount.Status.CLOSED,
    }
)


@dataclass(frozen=True)
class _Listed:
    aws_account_id: str
    email: str
    name: str
    state: str
    parent: str  # empty for closed accounts: their OU no longer matters


def _organization(payer: Payer) -> list[_Listed]:
    """Every account of the payer's Organization, with its parent (both paginated)."""
    with cloud.aws_errors("AssumeRole"):
        session = cloud.management_session(role_arn=payer.management_role_arn or None)
    org = cloud.client("organizations", session=session)
    with cloud.aws_errors("ListAccounts"):
        accounts: list[dict[str, Any]] = [
            account for page in org.get_paginator("list_accounts").paginate() for account in page["Accounts"]
        ]
    listed: list[_Listed] = []
    for account in accounts:
        state = str(account.get("Status", "ACTIVE"))
        parent = ""
        if state not in CLOSED_STATES:
            with cloud.aws_errors("ListParents"):
                parents = [
                    p["Id"]
                    for page in org.get_paginator("list_parents").paginate(ChildId=account["Id"])
                    for p in page["Parents"]
                ]
            parent = parents[0] if parents else ""
        listed.append(
            _Listed(
                aws_account_id=str(account["Id"]),
                email=str(account.get("Email", "")),
                name=str(account.get("Name", ""))[:50],
                state=state,
                parent=parent,
            )
        )
    return listed


def _drifted(account: ManagedAccount, *, kind: str, detail: str) -> None:
    record(
        AccountDrifted(
            account_id=account.id,
            aws_account_id=account.aws_account_id,
            payer=account.payer.name,
            kind=kind,
            detail=detail,
        )
    )
    log.info("accounts.drifted", aws_account_id=account.aws_account_id, kind=kind, detail=detail)


def _note(account: ManagedAccount, detail: str) -> str:
    line = f"{clock.now():%Y-%m-%d %H:%M} UTC: {detail}"
    return f"{account.drift}\n{line}" if account.drift else line


def accounts_reconcile(*, payer: str) -> ReconcileReport:
    """Bring the payer's accounts in line with its Organization (see the module docstring).

    AWS is read before the transaction opens, so no database lock is held across calls
    to AWS. Raises ``StepError`` (retryable or permanent, with the AWS code) when the
    Organization cannot be listed; then nothing is changed.
    """
    payer_row = Payer.objects.get(name=payer)
    listed = _organization(payer_row)
    closed: list[str] = []
    moved: list[str] = []
    discovered: list[str] = []
    with transaction.atomic():
        payer_row = Payer.objects.select_for_update().get(pk=payer_row.pk)
        now = clock.now()
        by_aws_id = {listed_account.aws_account_id: listed_account for listed_account in listed}
        known = {
            account.aws_account_id: account
            for account in ManagedAccount.objects.select_for_update()
            .select_related("payer")
            .filter(payer=payer_row)
            .exclude(aws_account_id="")
        }
        for aws_id, account in known.items():
            seen = by_aws_id.get(aws_id)
            changed: list[str] = []
            if seen is not None:
                account.last_seen_at = now
                changed.append("last_seen_at")
            if account.status in _LEFT_ALONE:
                pass  # its lifecycle is Bespoke's own (in flight) or over
            elif seen is None or seen.state in CLOSED_STATES:
                detail = "closed outside Bespoke" + ("" if seen else " (no longer in the Organization)")
                account.status = ManagedAccount.Status.CLOSED
                account.closed_at = now
                account.drift = _note(account, detail)
                changed += ["status", "closed_at", "drift"]
                _drifted(account, kind="closed", detail=detail)
                closed.append(aws_id)
            elif seen.parent and seen.parent != account.ou_id:
                if account.ou_id:  # else a first sighting: just learn where it is
                    detail = f"moved outside Bespoke from {account.ou_id} to {seen.parent}"
                    account.drift = _note(account, detail)
                    changed.append("drift")
                    _drifted(account, kind="moved", detail=detail)
                    moved.append(aws_id)
                account.ou_id = seen.parent
                changed.append("ou_id")
            if changed:
                account.updated_at = now
                account.save(update_fields=[*changed, "updated_at"])
        for seen in listed:
            if seen.aws_account_id in known or seen.aws_account_id == payer_row.management_account_id:
                continue
            if seen.state in CLOSED_STATES:
                continue  # closed before Bespoke ever saw it: nothing to manage
            account = ManagedAccount.objects.create(
                id=ids.new_id(),
                payer=payer_row,
                request_id=None,
                source=ManagedAccount.Source.DISCOVERED,
                status=ManagedAccount.Status.UNMANAGED,
                email=seen.email,
                name=seen.name,
                aws_account_id=seen.aws_account_id,
                ou_id=seen.parent,
                last_seen_at=now,
                created_at=now,
                updated_at=now,
            )
            _drifted(account, kind="discovered", detail=f"found in the Organization ({seen.name}, {seen.email})")
            discovered.append(seen.aws_account_id)
    report = ReconcileReport(
        payer=payer,
        seen=len(listed),
        closed=tuple(closed),
        moved=tuple(moved),
        discovered=tuple(discovered),
        scps_drifted=scps_reconcile(payer_row),
    )
    log.info("accounts.reconciled", payer=payer, seen=report.seen, closed=closed, moved=moved, discovered=discovered)
    return report


def accounts_reconcile_all() -> dict[str, Any]:
    """Reconcile every active payer; one payer's AWS trouble does not stop the others.

    Returns, per payer, what changed (counts) or the error that stopped it.
    """
    outcome: dict[str, Any] = {}
    for name in Payer.objects.filter(active=True).order_by("name").values_list("name", flat=True):
        try:
            report = accounts_reconcile(payer=name)
        except StepError as error:
            log.warning("accounts.reconcile_failed", payer=name, code=error.code, error=error.message)
            outcome[name] = {"error": error.code}
            continue
        outcome[name] = {
            "seen": report.seen,
            "closed": len(report.closed),
            "moved": len(report.moved),
            "discovered": len(report.discovered),
            "scps_drifted": len(report.scps_drifted),
        }
    return outcome


def accounts_active() -> tuple[ActiveAccount, ...]:
    """Every active managed account (vended or adopted, with its AWS id) of an active payer."""
    return tuple(
        ActiveAccount(account_id=account_id, aws_account_id=aws_account_id, payer=payer, regions=tuple(regions or ()))
        for account_id, aws_account_id, payer, regions in ManagedAccount.objects.filter(
            status=ManagedAccount.Status.ACTIVE, payer__active=True
        )
        .exclude(aws_account_id="")
        .order_by("payer__name", "aws_account_id")
        .values_list("id", "aws_account_id", "payer__name", "regions")
    )

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction

from apps.accounts import api as accounts
from apps.clients import api as clients
from apps.intake.contracts import (
    ACCEPTED,
    AWAITING_APPROVAL,
    CANCELLED,
    FAILED,
    LIVE_STATUSES,
    PROVISIONING,
    SUCCEEDED,
    AccountRequested,
    AccountRequestSummary,
)
from apps.intake.models import AccountRequest, IdempotencyKey
from apps.intake.selectors import summarize, visible_to
from apps.kernel import clock, ids
from apps.kernel.contracts import Actor
from apps.kernel.errors import ApplicationError, Conflict, FourEyes, NotFound, PermanentError
from apps.kernel.outbox import record
from apps.network import api as network
from apps.workflow import api as workflow


class DuplicateRequest(Conflict):
    code = "duplicate_request"


class UnknownPayer(ApplicationError):
    code = "validation_error"


class IdempotencyKeyReused(ApplicationError):
    code = "idempotency_key_reused"
    status_code = 422


class RequestStateConflict(Conflict):
    code = "request_state_conflict"


@dataclass(frozen=True)
class Created:
    request: AccountRequestSummary
    replayed: bool  # True: an earlier request with the same Idempotency-Key


def _fingerprint(data: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _replay(*, client_id: str, key: str, fingerprint: str) -> Created | None:
    earlier = IdempotencyKey.objects.filter(client_id=client_id, key=key).first()
    if earlier is None:
        return None
    if earlier.fingerprint != fingerprint:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was used with a different request body.",
            extra={"request_id": earlier.request_id},
        )
    return Created(request=summarize(AccountRequest.objects.get(id=earlier.request_id)), replayed=True)


def request_submit(
    *, principal: clients.Principal, data: dict[str, Any], idempotency_key: str | None = None
) -> Created:
    """A client's new request: ``request_create`` for a payer (and environment) the client
    is granted (403 ``payer_not_granted`` otherwise), made safe to retry with an
    ``Idempotency-Key``: the same key and body return the request the first call created
    (even if its answer was lost); the same key with another body is refused (422). Keys
    are per client."""
    principal.access.require(str(data["payer"]), str(data["environment"]))
    client_id = principal.client_id
    if idempotency_key is None:
        return Created(request=request_create(client_id=client_id, data=data, viewer=principal), replayed=False)
    fingerprint = _fingerprint(data)
    replay = _replay(client_id=client_id, key=idempotency_key, fingerprint=fingerprint)
    if replay is not None:
        return replay
    try:
        with transaction.atomic():
            created = request_create(client_id=client_id, data=data, viewer=principal)
            IdempotencyKey.objects.create(
                client_id=client_id,
                key=idempotency_key,
                fingerprint=fingerprint,
                request_id=created.id,
                created_at=clock.now(),
            )
    except (IntegrityError, DuplicateRequest):
        # A concurrent call with the same key won the race: answer as it did.
        replay = _replay(client_id=client_id, key=idempotency_key, fingerprint=fingerprint)
        if replay is None:
            raise
        return replay
    return Created(request=created, replayed=False)


def request_create(
    *, client_id: str, data: dict[str, Any], viewer: clients.Principal | None = None
) -> AccountRequestSummary:
    """Store a validated request and record ``AccountRequested`` in the same transaction —
    or, for a regulated request to a payer that requires approval, hold it (it keeps its
    account email) until an operator approves it.

    A second live request for the same account email is refused by the database's
    unique constraint (not by a read-then-write check), so concurrent duplicates cannot
    both get in; the loser learns the winner's id and status only if ``viewer`` (the
    caller; None: Bespoke itself) may see that request — never another client's.

    The one transaction (or, inside the caller's, savepoint) around the two inserts is all
    it needs: what it reads before is cached, what it reads after a refusal is committed.
    """
    known = accounts.payer_for_intake(name=data["payer"])
    if known is None:
        raise UnknownPayer("The request is invalid; see extra.fields.", extra={"fields": {"payer": ["Unknown payer."]}})
    payer = known.payer
    tags = data["tags"]
    email = accounts.account_email(
        payer=payer, project_short_name=tags["project_short_name"], environment=data["environment"]
    )
    now = clock.now()
    held = bool(data["regulated"]) and payer.approval_required_for_regulated
    request_id = ids.new_id()
    try:
        with transaction.atomic():
            request = AccountRequest.objects.create(
                id=request_id,
                client_id=client_id,
                payer=payer.name,
                environment=data["environment"],
                region=data["region"],
                regulated=data["regulated"],
                account_email=email,
                external_transaction_id=data.get("external_transaction_id", ""),
                status=AWAITING_APPROVAL if held else ACCEPTED,
                body=data,
                created_at=now,
                updated_at=now,
            )
            if not held:
                record(_requested(request, known))
    except IntegrityError:
        existing = AccountRequest.objects.filter(account_email=email, status__in=LIVE_STATUSES).first()
        if existing is None:  # the other request failed in between: not a duplicate any more
            raise
        extra: dict[str, Any] = {"account_email": email}
        if visible_to(viewer).filter(pk=existing.pk).exists():
            extra |= {"existing_request_id": existing.id, "status": existing.status}
        raise DuplicateRequest(f"A request for {email} already exists.", extra=extra) from None
    return summarize(request)


def request_regions(data: dict[str, Any]) -> list[str]:
    """The regions a stored request builds in, its primary region first (a request stored
    before requests could name several has its one ``region``)."""
    return [str(region) for region in data.get("regions") or [data["region"]]]


def _requested(request: AccountRequest, known: accounts.PayerIntake) -> AccountRequested:
    """The event that starts the request's run, with everything the run needs (the
    blueprint pinned now, the payer's settings)."""
    data = request.body
    tags = data["tags"]
    payer = known.payer
    blueprint = accounts.blueprint_choose(
        known.blueprints, environment=request.environment, regulated=request.regulated
    )
    return AccountRequested(
        request_id=request.id,
        payer=payer.name,
        environment=request.environment,
        region=request.region,
        regions=request_regions(data),
        regulated=request.regulated,
        account_email=request.account_email,
        account_name=accounts.account_name(
            payer=payer, project_short_name=tags["project_short_name"], environment=request.environment
        ),
        tags=dict(tags),
        vpc=dict(data["vpc"]),
        user_access_list=list(data["user_access_list"]),
        technical_contact=dict(data["technical_contact"]),
        requestor=dict(data["requestor"]),
        monthly_budget_usd=data.get("monthly_budget_usd"),
        blueprint=None
        if blueprint is None
        else {"name": blueprint.name, "version": blueprint.version, "steps": list(blueprint.steps)},
        payer_settings=known.settings,
    )


@transaction.atomic
def request_approve(*, request_id: str, approver: Actor) -> AccountRequestSummary:
    """Let a request that waits for approval go ahead: its run starts from here.

    Four eyes: the client that submitted the request cannot approve it (403
    ``four_eyes``). Once only: a second approval (or one racing it) finds the request no
    longer waiting and is refused, so ``AccountRequested`` is recorded once.
    """
    request = AccountRequest.objects.select_for_update().filter(id=request_id).first()
    if request is None:
        raise NotFound(f"No account request {request_id}.")
    if approver.kind == "client" and approver.id == request.client_id:
        raise FourEyes("The client that submitted a request cannot approve it: another operator must.")
    if request.status != AWAITING_APPROVAL:
        raise RequestStateConflict(f"Only a request awaiting approval can be approved; this one is {request.status}.")
    known = accounts.payer_for_intake(name=request.payer, cached=False)
    if known is None:
        raise RequestStateConflict(f"Its payer {request.payer} is no longer active.")
    request.status = ACCEPTED
    request.approved_by = approver.label
    request.approved_at = clock.now()
    request.updated_at = request.approved_at
    request.save(update_fields=["status", "approved_by", "approved_at", "updated_at"])
    record(_requested(request, known))
    return summarize(request)


@transaction.atomic
def request_reject(*, request_id: str, approver: Actor, reason: str) -> AccountRequestSummary:
    """Refuse a request that waits for approval: it ends cancelled (nothing was created)
    and its account email is free again."""
    request = AccountRequest.objects.select_for_update().filter(id=request_id).first()
    if request is None:
        raise NotFound(f"No account request {request_id}.")
    why = f"rejected by {approver.label}: {reason}"
    if not _transition(request_id, to=CANCELLED, allowed_from=(AWAITING_APPROVAL,), failure=why):
        raise RequestStateConflict(f"Only a request awaiting approval can be rejected; this one is {request.status}.")
    workflow.run_cancel(request_id=request_id, reason=why)
    request.refresh_from_db()
    return summarize(request)


def _transition(request_id: str, *, to: str, allowed_from: tuple[str, ...], failure: str = "") -> bool:
    changed = AccountRequest.objects.filter(id=request_id, status__in=allowed_from).update(
        status=to, failure=failure, updated_at=clock.now()
    )
    return bool(changed)


def request_mark_provisioning(*, request_id: str) -> bool:
    return _transition(request_id, to=PROVISIONING, allowed_from=(ACCEPTED,))


def request_mark_succeeded(*, request_id: str) -> bool:
    return _transition(request_id, to=SUCCEEDED, allowed_from=(ACCEPTED, PROVISIONING))


def request_mark_failed(*, request_id: str, failure: str) -> bool:
    return _transition(request_id, to=FAILED, allowed_from=(ACCEPTED, PROVISIONING), failure=failure)


@transaction.atomic
def request_retry(*, request_id: str) -> AccountRequestSummary:
    """Retry a failed or cancelled request from its failed steps (not from scratch)."""
    request = AccountRequest.objects.select_for_update().filter(id=request_id).first()
    if request is None:
        raise NotFound(f"No account request {request_id}.")
    if request.status not in (FAILED, CANCELLED):
        raise RequestStateConflict(f"Only a failed or cancelled request can be retried; this one is {request.status}.")
    try:
        with transaction.atomic():
            _transition(request_id, to=PROVISIONING, allowed_from=(FAILED, CANCELLED))
    except IntegrityError:
        holder = AccountRequest.objects.filter(account_email=request.account_email, status__in=LIVE_STATUSES).first()
        raise RequestStateConflict(
            f"Another live request now holds {request.account_email}.",
            extra={"existing_request_id": holder.id if holder else None},
        ) from None
    try:
        network.cidr_reclaim(request_id=request_id)
    except PermanentError as error:  # its block went to another request meanwhile
        raise RequestStateConflict(f"Cannot resume: {error.message}", extra={"code": error.code}) from error
    workflow.run_retry(request_id=request_id)
    request.refresh_from_db()
    return summarize(request)


@transaction.atomic
def request_cancel(*, request_id: str, reason: str) -> AccountRequestSummary:
    """Cancel a request not yet finished: no further step starts, the VPC's CIDR is released."""
    request = AccountRequest.objects.select_for_update().filter(id=request_id).first()
    if request is None:
        raise NotFound(f"No account request {request_id}.")
    if not _transition(
        request_id,
        to=CANCELLED,
        allowed_from=(AWAITING_APPROVAL, ACCEPTED, PROVISIONING),
        failure=f"cancelled: {reason}",
    ):
        raise RequestStateConflict(f"Only an unfinished request can be cancelled; this one is {request.status}.")
    workflow.run_cancel(request_id=request_id, reason=reason)
    request.refresh_from_db()
    return summarize(request)

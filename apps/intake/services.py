from typing import Any

from django.db import IntegrityError, transaction

from apps.accounts import api as accounts
from apps.intake.contracts import (
    ACCEPTED,
    FAILED,
    LIVE_STATUSES,
    PROVISIONING,
    SUCCEEDED,
    AccountRequested,
    AccountRequestSummary,
)
from apps.intake.models import AccountRequest
from apps.intake.selectors import summarize
from apps.kernel import clock, ids
from apps.kernel.errors import ApplicationError, Conflict
from apps.kernel.outbox import record


class DuplicateRequest(Conflict):
    code = "duplicate_request"


class UnknownPayer(ApplicationError):
    code = "validation_error"


def request_create(*, client_id: str, data: dict[str, Any]) -> AccountRequestSummary:
    """Store a validated request and record ``AccountRequested`` in the same transaction.

    A second live request for the same account email is refused by the database's
    unique constraint (not by a read-then-write check), so concurrent duplicates cannot
    both get in; the loser learns the winner's id.
    """
    payer = accounts.payer_get(name=data["payer"])
    if payer is None:
        raise UnknownPayer("The request is invalid; see extra.fields.", extra={"fields": {"payer": ["Unknown payer."]}})
    tags = data["tags"]
    email = accounts.account_email(
        payer=payer, project_short_name=tags["project_short_name"], environment=data["environment"]
    )
    name = accounts.account_name(
        payer=payer, project_short_name=tags["project_short_name"], environment=data["environment"]
    )
    now = clock.now()
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
                status=ACCEPTED,
                body=data,
                created_at=now,
                updated_at=now,
            )
            record(
                AccountRequested(
                    request_id=request_id,
                    payer=payer.name,
                    environment=data["environment"],
                    region=data["region"],
                    regulated=data["regulated"],
                    account_email=email,
                    account_name=name,
                    tags=dict(tags),
                    vpc=dict(data["vpc"]),
                    user_access_list=list(data["user_access_list"]),
                    technical_contact=dict(data["technical_contact"]),
                    requestor=dict(data["requestor"]),
                )
            )
    except IntegrityError:
        existing = AccountRequest.objects.filter(account_email=email, status__in=LIVE_STATUSES).first()
        if existing is None:  # the other request failed in between: not a duplicate any more
            raise
        raise DuplicateRequest(
            f"A request for {email} already exists.",
            extra={"existing_request_id": existing.id, "account_email": email, "status": existing.status},
        ) from None
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

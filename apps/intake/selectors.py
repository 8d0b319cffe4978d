from collections.abc import Iterable
from datetime import datetime

from django.db.models import Q, QuerySet

from apps.clients import api as clients
from apps.intake.contracts import AccountRequestSummary, RequestActivity
from apps.intake.models import AccountRequest
from apps.kernel.search import id_matches, text_matches


def summarize(request: AccountRequest) -> AccountRequestSummary:
    return AccountRequestSummary(
        id=request.id,
        client_id=request.client_id,
        status=request.status,
        payer=request.payer,
        environment=request.environment,
        region=request.region,
        regulated=request.regulated,
        account_email=request.account_email,
        body=request.body,
        failure=request.failure,
        created_at=request.created_at,
        updated_at=request.updated_at,
        approved_by=request.approved_by,
        approved_at=request.approved_at,
    )


def visible_to(viewer: clients.Principal | None) -> "QuerySet[AccountRequest]":
    """The requests ``viewer`` may see: a client its own, inside its payer grants; an
    operator every client's, inside its grants; None (Bespoke itself) all of them."""
    queryset = AccountRequest.objects.all()
    if viewer is None:
        return queryset
    queryset = queryset.filter(clients.granted(viewer.access))
    if not viewer.is_operator:
        queryset = queryset.filter(client_id=viewer.client_id)
    return queryset


def request_get(*, request_id: str, viewer: clients.Principal | None) -> AccountRequestSummary | None:
    """A request, if ``viewer`` may see it (None: Bespoke itself, any request)."""
    request = visible_to(viewer).filter(id=request_id).first()
    return summarize(request) if request else None


def request_list(
    *, viewer: clients.Principal | None, status: str | None, limit: int, offset: int
) -> tuple[int, list[AccountRequestSummary]]:
    queryset = visible_to(viewer)
    if status:
        queryset = queryset.filter(status=status)
    return queryset.count(), [summarize(r) for r in queryset.order_by("-created_at")[offset : offset + limit]]


def requests_find(*, term: str, limit: int) -> list[AccountRequestSummary]:
    """Requests whose id (or its first characters) or external transaction id is ``term``,
    or whose account email holds it; newest first. For the operator console's search:
    staff see every payer's requests (their admin permissions decide whether they may
    look at requests at all)."""
    matching = (
        id_matches("id", term)
        | text_matches("account_email", term)
        | (Q(external_transaction_id=term.strip()) if term.strip() else Q(pk__in=[]))
    )
    return [summarize(r) for r in AccountRequest.objects.filter(matching).order_by("-created_at")[:limit]]


def request_activity(*, since: datetime, until: datetime | None = None) -> list[RequestActivity]:
    """Requests created in ``[since, until)``, oldest first (the dashboard buckets them by day)."""
    queryset = AccountRequest.objects.filter(created_at__gte=since)
    if until is not None:
        queryset = queryset.filter(created_at__lt=until)
    rows = queryset.order_by("created_at").values_list("id", "status", "created_at")
    return [RequestActivity(request_id=id_, status=status, created_at=created) for id_, status, created in rows]


def request_created_times(*, request_ids: Iterable[str]) -> dict[str, datetime]:
    """When each of ``request_ids`` was created (ids intake doesn't know are left out)."""
    ids = list(request_ids)
    return dict(AccountRequest.objects.filter(id__in=ids).values_list("id", "created_at")) if ids else {}


# --- For routing events by tenant ---------------------------------------------------------


def request_get_unscoped(*, request_id: str) -> AccountRequestSummary | None:
    """A request whoever asks: for deciding which clients may hear about it (notifications
    routes a run's events to the request's client and the operators covering its payer).
    Never serve a caller with it: callers get the selectors scoped by their grants."""
    request = AccountRequest.objects.filter(id=request_id).first()
    return summarize(request) if request else None

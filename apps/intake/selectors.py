from collections.abc import Iterable
from datetime import datetime

from apps.intake.contracts import AccountRequestSummary, RequestActivity
from apps.intake.models import AccountRequest


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
    )


def request_get(*, request_id: str, client_id: str | None) -> AccountRequestSummary | None:
    """A request, if ``client_id`` (None: any client) may see it."""
    queryset = AccountRequest.objects.filter(id=request_id)
    if client_id is not None:
        queryset = queryset.filter(client_id=client_id)
    request = queryset.first()
    return summarize(request) if request else None


def request_list(
    *, client_id: str | None, status: str | None, limit: int, offset: int
) -> tuple[int, list[AccountRequestSummary]]:
    queryset = AccountRequest.objects.all()
    if client_id is not None:
        queryset = queryset.filter(client_id=client_id)
    if status:
        queryset = queryset.filter(status=status)
    return queryset.count(), [summarize(r) for r in queryset.order_by("-created_at")[offset : offset + limit]]


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

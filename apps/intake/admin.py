from datetime import datetime
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from apps.intake.contracts import CANCELLED, FAILED, SUCCEEDED
from apps.intake.models import AccountRequest
from apps.intake.services import request_approve, request_cancel, request_reject, request_retry
from apps.kernel.columns import age_column, duration_column, short_id_column
from apps.kernel.contracts import Actor
from apps.kernel.errors import ApplicationError
from apps.kernel.pills import pill_column
from apps.kernel.readonly import ReadOnlyAdmin


def _finished_at(request: AccountRequest) -> datetime | None:
    """A finished request's last change is its end; an unfinished one is still going."""
    return request.updated_at if request.status in (SUCCEEDED, FAILED, CANCELLED) else None


@admin.register(AccountRequest)
class AccountRequestAdmin(ReadOnlyAdmin):
    """The requests, listed; a request's page is the console's (its run, account and
    actions together: apps/console/screens.py)."""

    list_display = (
        short_id_column(),
        "account_email",
        "payer",
        "environment",
        pill_column("status"),
        age_column("created_at"),
        duration_column("created_at", _finished_at),
    )
    list_filter = ("status", "payer", "environment", "region", "regulated")
    search_fields = ("id", "account_email", "external_transaction_id", "client_id")
    date_hierarchy = "created_at"
    actions = ["approve", "reject", "retry", "cancel"]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        return redirect("admin:console_request", request_id=unquote(object_id))

    @admin.action(description="Approve (regulated requests awaiting approval)", permissions=["approve"])
    def approve(self, request: HttpRequest, queryset: QuerySet[AccountRequest]) -> None:
        for account_request in queryset:
            try:
                request_approve(request_id=account_request.id, approver=Actor.of_user(request.user))
                self.message_user(request, f"{account_request.account_email}: approved; provisioning starts.")
            except ApplicationError as error:
                self.message_user(request, f"{account_request.account_email}: {error.message}", level=messages.WARNING)

    @admin.action(description="Reject (requests awaiting approval)", permissions=["reject"])
    def reject(self, request: HttpRequest, queryset: QuerySet[AccountRequest]) -> None:
        for account_request in queryset:
            try:
                request_reject(
                    request_id=account_request.id, approver=Actor.of_user(request.user), reason="rejected in the admin"
                )
                self.message_user(request, f"{account_request.account_email}: rejected.")
            except ApplicationError as error:
                self.message_user(request, f"{account_request.account_email}: {error.message}", level=messages.WARNING)

    @admin.action(description="Retry from the failed steps", permissions=["retry"])
    def retry(self, request: HttpRequest, queryset: QuerySet[AccountRequest]) -> None:
        for account_request in queryset:
            try:
                request_retry(request_id=account_request.id)
                self.message_user(request, f"{account_request.account_email}: retrying from its failed steps.")
            except ApplicationError as error:
                self.message_user(request, f"{account_request.account_email}: {error.message}", level=messages.WARNING)

    @admin.action(description="Cancel (releases the VPC's CIDR)", permissions=["cancel"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[AccountRequest]) -> None:
        for account_request in queryset:
            try:
                request_cancel(request_id=account_request.id, reason=f"cancelled by {request.user} in the admin")
                self.message_user(request, f"{account_request.account_email}: cancelled.")
            except ApplicationError as error:
                self.message_user(request, f"{account_request.account_email}: {error.message}", level=messages.WARNING)

    # Each action needs its own permission (AccountRequest.Meta.permissions): viewing the
    # requests lets nobody act on them.
    def has_approve_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("intake.approve_accountrequest")

    def has_reject_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("intake.reject_accountrequest")

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("intake.retry_accountrequest")

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("intake.cancel_accountrequest")

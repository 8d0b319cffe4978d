from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.accounts.models import AccountCommand, ManagedAccount, Payer, QuotaBucket
from apps.accounts.services import account_reapply_baseline
from apps.kernel.errors import ApplicationError


@admin.register(Payer)
class PayerAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = (
        "name",
        "display_name",
        "management_account_id",
        "allowed_environments",
        "allowed_regions",
        "active",
    )
    list_filter = ("active",)
    search_fields = ("name", "display_name", "management_account_id")


@admin.register(ManagedAccount)
class ManagedAccountAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = (
        "aws_account_id",
        "email",
        "payer",
        "status",
        "source",
        "environment",
        "created_at",
        "slot_taken_at",
        "slot_released_at",
    )
    list_filter = ("payer", "status", "source", "environment")
    search_fields = ("aws_account_id", "email", "name", "request_id")
    readonly_fields = [f.name for f in ManagedAccount._meta.fields]
    actions = ["reapply_baseline"]

    @admin.action(description="Reapply baseline (every step of the account's blueprint)")
    def reapply_baseline(self, request: HttpRequest, queryset: QuerySet[ManagedAccount]) -> None:
        for account in queryset:
            label = account.aws_account_id or account.email
            try:
                command = account_reapply_baseline(account_id=account.id, issued_by=f"admin:{request.user}")
                self.message_user(request, f"{label}: reapplying its baseline (command {command.id}).")
            except ApplicationError as error:
                self.message_user(request, f"{label}: {error.message}", level=messages.WARNING)

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False


@admin.register(QuotaBucket)
class QuotaBucketAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """The Organizations quota buckets (apps/accounts/quotas.py), for looking only."""

    list_display = ("organization_id", "name", "tokens", "updated_at")
    readonly_fields = ("organization_id", "name", "tokens", "updated_at")

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False


@admin.register(AccountCommand)
class AccountCommandAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Commands on existing accounts, for looking only (issue them through the API or the
    accounts' actions)."""

    list_display = ("id", "account", "command", "status", "client_id", "created_at", "finished_at")
    list_filter = ("command", "status")
    search_fields = ("id", "account__aws_account_id", "account__id", "client_id")
    readonly_fields = [f.name for f in AccountCommand._meta.fields]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

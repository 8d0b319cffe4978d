from django.contrib import admin

from apps.accounts.models import ManagedAccount, Payer, QuotaBucket


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
    list_display = ("aws_account_id", "email", "payer", "status", "created_at", "slot_taken_at", "slot_released_at")
    list_filter = ("status", "payer")
    search_fields = ("aws_account_id", "email", "name", "request_id")
    readonly_fields = [f.name for f in ManagedAccount._meta.fields]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False


@admin.register(QuotaBucket)
class QuotaBucketAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """The Organizations quota buckets (apps/accounts/quotas.py), for looking only."""

    list_display = ("organization_id", "name", "tokens", "updated_at")
    readonly_fields = ("organization_id", "name", "tokens", "updated_at")

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

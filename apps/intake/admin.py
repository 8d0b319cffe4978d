from django.contrib import admin

from apps.intake.models import AccountRequest


@admin.register(AccountRequest)
class AccountRequestAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("id", "account_email", "payer", "environment", "region", "regulated", "status", "created_at")
    list_filter = ("status", "payer", "environment", "region", "regulated")
    search_fields = ("id", "account_email", "external_transaction_id", "client_id")
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in AccountRequest._meta.fields]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from apps.compliance.models import ComplianceSnapshot


@admin.register(ComplianceSnapshot)
class ComplianceSnapshotAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Read-only: snapshots are what AWS Config said; only the poller writes them."""

    list_display = ("aws_account_id", "payer", "taken_at", "compliant")
    list_filter = ("compliant", "payer")
    search_fields = ("aws_account_id",)
    date_hierarchy = "taken_at"
    readonly_fields = ("id", "aws_account_id", "payer", "taken_at", "compliant", "rules")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

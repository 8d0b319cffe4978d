from django.contrib import admin

from apps.compliance.models import ComplianceSnapshot
from apps.kernel.columns import age_column
from apps.kernel.readonly import ReadOnlyAdmin


@admin.register(ComplianceSnapshot)
class ComplianceSnapshotAdmin(ReadOnlyAdmin):
    """Read-only: snapshots are what AWS Config said; only the poller writes them."""

    list_display = ("aws_account_id", "payer", age_column("taken_at", description="taken"), "compliant")
    list_filter = ("compliant", "payer")
    search_fields = ("aws_account_id",)
    date_hierarchy = "taken_at"
    readonly_fields = ("id", "aws_account_id", "payer", "taken_at", "compliant", "rules")

from django.contrib import admin

from apps.audit.models import AuditEntry
from apps.kernel.columns import age_column, short_id_column
from apps.kernel.readonly import ReadOnlyAdmin


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    """Read-only for everyone, superusers included: an audit log nobody can edit."""

    list_display = (
        age_column("at", description="at"),
        "actor_type",
        "actor",
        "action",
        "target_type",
        short_id_column("target_id", description="target"),
        "status_code",
        "source_ip",
    )
    list_filter = ("actor_type", "action", "at")
    search_fields = ("actor", "target_id", "request_id")
    date_hierarchy = "at"
    readonly_fields = [f.name for f in AuditEntry._meta.fields]
    actions = None

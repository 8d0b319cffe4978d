from django.contrib import admin

from apps.workflow.models import Run, StepRun


class StepRunInline(admin.TabularInline):  # type: ignore[type-arg]
    model = StepRun
    fields = (
        "name",
        "legacy_name",
        "state",
        "attempts",
        "started_at",
        "finished_at",
        "error_code",
        "message",
        "outputs",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("position",)

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("id", "request_id", "status", "started_at", "finished_at")
    list_filter = ("status",)
    search_fields = ("id", "request_id")
    readonly_fields = ("id", "request_id", "status", "params", "started_at", "finished_at", "failure")
    inlines = [StepRunInline]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False


@admin.register(StepRun)
class StepRunAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("run", "name", "legacy_name", "state", "attempts", "started_at", "finished_at")
    list_filter = ("state", "name")
    search_fields = ("run__id", "run__request_id", "name")
    readonly_fields = [f.name for f in StepRun._meta.fields]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from apps.accounts import api as accounts
from apps.kernel import clock
from apps.kernel.contracts import Actor
from apps.kernel.errors import ApplicationError
from apps.kernel.pills import pill_column, status_tone
from apps.workflow.models import Run, StepRun
from apps.workflow.plans import blueprint_steps


def timeline(run: Run) -> dict[str, Any]:
    """Each step as a bar over the run's time span (percentages for the template)."""
    steps = list(run.steps.order_by("position"))
    end = run.finished_at or clock.now()
    total = max((end - run.started_at).total_seconds(), 0.001)
    rows = []
    for step in steps:
        left = width = 0.0
        duration = None
        if step.started_at is not None:
            finished = step.finished_at or end
            duration = (finished - step.started_at).total_seconds()
            left = 100 * (step.started_at - run.started_at).total_seconds() / total
            width = max(100 * duration / total, 0.5)
        rows.append(
            {
                "name": step.name,
                "legacy_name": step.legacy_name,
                "state": step.state,
                "tone": status_tone(step.state),
                "attempts": step.attempts,
                "started_at": step.started_at,
                "finished_at": step.finished_at,
                "left": round(min(left, 99.5), 2),
                "width": round(min(width, 100 - min(left, 99.5)), 2),
                "duration": duration,
                "message": step.message,
            }
        )
    return {"total": total, "rows": rows}


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
    list_display = (
        "id",
        "request_id",
        pill_column("status"),
        "blueprint_name",
        "blueprint_version",
        "started_at",
        "finished_at",
    )
    list_filter = ("status", "kind")
    search_fields = ("id", "request_id")
    readonly_fields = (
        "id",
        "request_id",
        "status",
        "blueprint_name",
        "blueprint_version",
        "started_at",
        "finished_at",
        "failure",
        "params",
    )
    inlines = [StepRunInline]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        run = self.get_object(request, object_id)
        context = {**(extra_context or {}), "timeline": timeline(run) if run else None}
        return super().change_view(request, object_id, form_url, extra_context=context)

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False  # the task-status table is history: runs end, they are never erased


@admin.register(StepRun)
class StepRunAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("run", "name", "legacy_name", pill_column("state"), "attempts", "started_at", "finished_at")
    list_filter = ("state", "name")
    search_fields = ("run__id", "run__request_id", "name")
    readonly_fields = [f.name for f in StepRun._meta.fields]
    actions = ["reapply"]

    @admin.action(description="Reapply on the account (a reapply command, then verify)", permissions=["reapply"])
    def reapply(self, request: HttpRequest, queryset: QuerySet[StepRun]) -> None:
        """One reapply command per request, with the selected baseline and network steps of
        its vend run; the account's blueprint gives their parameters today."""
        chosen: dict[str, list[str]] = {}
        for step in queryset.select_related("run").order_by("run_id", "position"):
            if step.run.kind != Run.Kind.ACCOUNT_REQUEST or step.name not in blueprint_steps():
                self.message_user(
                    request,
                    f"{step.name}: only a vend run's baseline and network steps can be reapplied.",
                    level=messages.WARNING,
                )
                continue
            chosen.setdefault(step.run.request_id, []).append(step.name)
        for request_id, steps in chosen.items():
            try:
                command_id = accounts.account_reapply_steps(
                    request_id=request_id, steps=steps, actor=Actor.of_user(request.user)
                )
                self.message_user(
                    request, f"Request {request_id}: reapplying {', '.join(steps)} (command {command_id})."
                )
            except ApplicationError as error:
                self.message_user(request, f"Request {request_id}: {error.message}", level=messages.WARNING)

    def has_reapply_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("workflow.reapply_steprun")

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False  # the task-status table is history: runs end, they are never erased

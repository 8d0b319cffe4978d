from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from apps.accounts import api as accounts
from apps.kernel.columns import age_column, duration_column, short_id_column
from apps.kernel.contracts import Actor
from apps.kernel.errors import ApplicationError
from apps.kernel.pills import pill_column
from apps.kernel.readonly import ReadOnlyAdmin
from apps.workflow.models import Run, StepRun
from apps.workflow.plans import blueprint_steps


def _param(field: str, description: str) -> Any:
    @admin.display(description=description)
    def column(run: Run) -> str:
        return str((run.params or {}).get(field) or "-")

    column.__name__ = f"params_{field}"
    return column


@admin.register(Run)
class RunAdmin(ReadOnlyAdmin):
    """The task-status table's runs, listed; a run's page is the console's (its request,
    account, timeline, outputs and actions together: apps/console/screens.py)."""

    list_display = (
        short_id_column(),
        _param("account_email", "account email"),
        _param("payer", "payer"),
        _param("environment", "environment"),
        pill_column("status"),
        "kind",
        age_column("started_at", description="started"),
        duration_column("started_at", "finished_at"),
    )
    list_filter = ("status", "kind")
    search_fields = ("id", "request_id")

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        return redirect("admin:console_run", run_id=unquote(object_id))


@admin.register(StepRun)
class StepRunAdmin(ReadOnlyAdmin):
    list_display = (
        short_id_column("run_id", description="run"),
        "name",
        pill_column("state"),
        "attempts",
        age_column("started_at", description="started"),
        duration_column("started_at", "finished_at"),
        "message",
    )
    list_filter = ("state", "name")
    search_fields = ("run__id", "run__request_id", "name")
    actions = ["reapply"]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        # A step is read on its run's page, among the others, where its outputs are shown.
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        step = self.get_object(request, unquote(object_id))
        if step is None:
            raise Http404(f"No step run {object_id}.")
        return redirect(f"{reverse('admin:console_run', kwargs={'run_id': step.run_id})}#step-{step.name}")

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

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from apps.kernel.columns import age_column, short_id_column
from apps.kernel.deadletters import dead_letter_discard, dead_letter_redrive
from apps.kernel.errors import ApplicationError
from apps.kernel.models import DeadLetter, OutboxMessage
from apps.kernel.pills import pill_column
from apps.kernel.readonly import ReadOnlyAdmin


@admin.register(DeadLetter)
class DeadLetterAdmin(ReadOnlyAdmin):
    list_display = (
        age_column("created_at"),
        "message_type",
        "handler",
        "error_code",
        "attempts",
        pill_column("state"),
        "resolved_by",
    )
    list_filter = ("state", "handler", "message_type", "error_code")
    search_fields = ("id", "message_id", "error", "handler")
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in DeadLetter._meta.fields]
    actions = ["redrive", "discard"]

    def has_redrive_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("kernel.redrive_deadletter")

    def has_discard_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("kernel.discard_deadletter")

    @admin.action(
        description="Redrive: hand to the handler again (a failed step retries its run)", permissions=["redrive"]
    )
    def redrive(self, request: HttpRequest, queryset: QuerySet[DeadLetter]) -> None:
        for letter in queryset:
            try:
                done = dead_letter_redrive(dead_letter_id=letter.id, by=f"admin:{request.user}")
                self.message_user(request, f"{letter.message_type} → {letter.handler}: {done.resolution}.")
            except ApplicationError as error:
                self.message_user(request, f"{letter.id}: {error.message}", level=messages.WARNING)

    @admin.action(description="Discard with a reason", permissions=["discard"])
    def discard(self, request: HttpRequest, queryset: QuerySet[DeadLetter]) -> TemplateResponse | None:
        reason = request.POST.get("reason", "").strip()
        if request.POST.get("confirm") != "yes" or not reason:
            return TemplateResponse(
                request,
                "admin/kernel/deadletter/discard.html",
                {**self.admin_site.each_context(request), "letters": list(queryset), "title": "Discard dead letters"},
            )
        for letter in queryset:
            try:
                dead_letter_discard(dead_letter_id=letter.id, reason=reason, by=f"admin:{request.user}")
            except ApplicationError as error:
                self.message_user(request, f"{letter.id}: {error.message}", level=messages.WARNING)
        self.message_user(request, f"Discarded {queryset.count()} dead letter(s).")
        return None


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdmin):
    list_display = (
        age_column("recorded_at", description="recorded"),
        "type",
        short_id_column("aggregate_id", description="aggregate"),
        age_column("published_at", description="published"),
        "publish_attempts",
        "parked_as",
    )
    list_filter = ("type", "parked_as")
    search_fields = ("message_id", "aggregate_id")
    readonly_fields = [f.name for f in OutboxMessage._meta.fields]

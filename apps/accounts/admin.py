from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from apps.accounts.admin_guardrails import PayerForm, guardrails_overview
from apps.accounts.commands import account_reapply_baseline, command_approve, command_reject
from apps.accounts.models import AccountCommand, Blueprint, ManagedAccount, Payer, QuotaBucket
from apps.accounts.services import InvalidBlueprint, blueprint_save, blueprint_validate
from apps.kernel.columns import age_column, duration_column, short_id_column
from apps.kernel.contracts import Actor
from apps.kernel.errors import ApplicationError
from apps.kernel.pills import pill_column
from apps.kernel.readonly import ReadOnlyAdmin


@admin.register(Payer)
class PayerAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = PayerForm
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
    readonly_fields = ("ou_ids", "guardrails")

    @admin.display(description="OU tree, SCPs and accounts")
    def guardrails(self, payer: Payer) -> str:
        return guardrails_overview(payer)


@admin.register(ManagedAccount)
class ManagedAccountAdmin(ReadOnlyAdmin):
    """The accounts, listed; an account's page is the console's (its facts, the request it
    was vended for, its commands and actions: apps/console/screens.py)."""

    list_display = (
        "aws_account_id",
        "email",
        "payer",
        "environment",
        pill_column("status"),
        "source",
        age_column("created_at"),
    )
    list_filter = ("payer", "status", "source", "environment")
    search_fields = ("aws_account_id", "email", "name", "id", "request_id")
    actions = ["reapply_baseline"]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        return redirect("admin:console_account", account_id=unquote(object_id))

    @admin.action(description="Reapply baseline (every step of the account's blueprint)", permissions=["reapply"])
    def reapply_baseline(self, request: HttpRequest, queryset: QuerySet[ManagedAccount]) -> None:
        for account in queryset:
            label = account.aws_account_id or account.email
            try:
                command = account_reapply_baseline(account_id=account.id, actor=Actor.of_user(request.user))
                self.message_user(request, f"{label}: reapplying its baseline (command {command.id}).")
            except ApplicationError as error:
                self.message_user(request, f"{label}: {error.message}", level=messages.WARNING)

    def has_reapply_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("accounts.reapply_managedaccount")


@admin.register(QuotaBucket)
class QuotaBucketAdmin(ReadOnlyAdmin):
    """The Organizations quota buckets (apps/accounts/quotas.py), for looking only."""

    list_display = ("organization_id", "name", "tokens", age_column("updated_at", description="updated"))
    readonly_fields = ("organization_id", "name", "tokens", "updated_at")


class BlueprintForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Blueprint
        fields = ("payer", "name", "description", "environment", "regulated", "definition", "active")

    def clean_definition(self) -> Any:
        # The same check as the API: known steps whose dependencies form a DAG.
        definition = self.cleaned_data.get("definition")
        try:
            blueprint_validate(definition)
        except InvalidBlueprint as error:
            raise forms.ValidationError(error.message) from error
        return definition


@admin.register(Blueprint)
class BlueprintAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = BlueprintForm
    list_display = (
        "name",
        "payer",
        "environment",
        "regulated",
        "version",
        "active",
        age_column("updated_at", description="updated"),
    )
    list_filter = ("payer", "environment", "regulated", "active")
    search_fields = ("name", "description")
    readonly_fields = ("version", "updated_at")

    def get_readonly_fields(self, request: HttpRequest, obj: Blueprint | None = None) -> Any:
        # A blueprint is found by payer and name; renaming would orphan its versions' history.
        return (*self.readonly_fields, "payer", "name") if obj is not None else self.readonly_fields

    def save_model(self, request: HttpRequest, obj: Blueprint, form: Any, change: bool) -> None:
        # Through the service so a changed definition becomes a new, pinned version.
        saved = blueprint_save(
            payer_name=obj.payer.name,
            name=obj.name,
            definition=obj.definition,
            environment=obj.environment,
            regulated=obj.regulated,
            description=obj.description,
            saved_by=request.user.get_username(),
        )
        stored = Blueprint.objects.get(id=saved.blueprint_id)
        if stored.active != obj.active:
            stored.active = obj.active
            stored.save(update_fields=["active"])
        obj.pk = stored.pk
        obj.refresh_from_db()


@admin.register(AccountCommand)
class AccountCommandAdmin(ReadOnlyAdmin):
    """Commands on existing accounts, for looking only (issue them through the API or the
    accounts' actions); a command's page is the console's (its account, its run and the
    approval it may wait for: apps/console/screens.py)."""

    list_display = (
        short_id_column(),
        "account__aws_account_id",
        "command",
        pill_column("status"),
        "requested_by_name",
        "approved_by",
        age_column("created_at"),
        duration_column("created_at", "finished_at"),
    )
    list_filter = ("command", "status")
    search_fields = ("id", "account__aws_account_id", "account__id", "client_id", "requested_by_name")
    actions = ["approve", "reject"]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        return redirect("admin:console_command", command_id=unquote(object_id))

    @admin.action(description="Approve (commands awaiting approval; not your own)", permissions=["approve"])
    def approve(self, request: HttpRequest, queryset: QuerySet[AccountCommand]) -> None:
        for command in queryset:
            try:
                command_approve(command_id=command.id, approver=Actor.of_user(request.user), viewer=None)
                self.message_user(request, f"{command.command} {command.id}: approved; it runs now.")
            except ApplicationError as error:
                self.message_user(request, f"{command.command} {command.id}: {error.message}", level=messages.WARNING)

    @admin.action(description="Reject (commands awaiting approval)", permissions=["reject"])
    def reject(self, request: HttpRequest, queryset: QuerySet[AccountCommand]) -> None:
        for command in queryset:
            try:
                command_reject(
                    command_id=command.id,
                    approver=Actor.of_user(request.user),
                    reason="rejected in the admin",
                    viewer=None,
                )
                self.message_user(request, f"{command.command} {command.id}: rejected.")
            except ApplicationError as error:
                self.message_user(request, f"{command.command} {command.id}: {error.message}", level=messages.WARNING)

    def has_approve_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("accounts.approve_accountcommand")

    def has_reject_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("accounts.reject_accountcommand")

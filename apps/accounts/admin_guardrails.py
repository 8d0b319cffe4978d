"""The admin's view of each payer's guardrails: its OU tree with the SCPs and accounts
under each OU (on the payer's page), and its service control policies, edited through the
service so that every change is checked and versioned (docs/guardrails.md)."""

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from apps.accounts.guardrails import (
    ROOT,
    InvalidGuardrail,
    ou_every_path,
    ou_paths,
    ou_rules_check,
    payer_guardrails_tree,
    scp_document_check,
    scp_save,
)
from apps.accounts.models import Payer, ServiceControlPolicy, ServiceControlPolicyVersion
from apps.kernel.columns import age_column


def guardrails_overview(payer: Payer) -> str:
    """The OU tree as a table: OU, id, which requests land there, SCPs, accounts."""
    if payer.pk is None:
        return "-"
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                row["path"],
                row["ou_id"] or "(not created yet)",
                ", ".join(row["rule"]) or "-",
                ", ".join(row["scps"]) or "-",
                ", ".join(row["accounts"]) or "-",
            )
            for row in payer_guardrails_tree(payer)
        ),
    )
    return format_html(
        "<table><thead><tr><th>OU</th><th>id</th><th>placed there</th><th>SCPs</th><th>accounts</th></tr></thead>"
        "<tbody>{}</tbody></table>",
        rows,
    )


class PayerForm(forms.ModelForm):  # type: ignore[type-arg]
    """The payer, with its OU tree and rule checked as ``guardrails_configure`` checks them."""

    class Meta:
        model = Payer
        fields = (
            "name",
            "display_name",
            "management_account_id",
            "management_role_arn",
            "member_role_name",
            "email_division",
            "email_domain",
            "allowed_environments",
            "allowed_regions",
            "parent_ou_id",
            "log_archive_bucket",
            "saml_provider_name",
            "saml_metadata_document",
            "dns_domain",
            "approval_required_for_regulated",
            "protected_account_ids",
            "closures_per_30_days",
            "ou_tree",
            "ou_rules",
            "alternate_contacts",
            "security_admin_account_id",
            "max_monthly_budget_usd",
            "active",
        )

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        try:
            tree = ou_paths(cleaned.get("ou_tree") or [])
        except InvalidGuardrail as error:
            self.add_error("ou_tree", error.message)
            return cleaned
        cleaned["ou_tree"] = tree
        try:
            ou_rules_check(cleaned.get("ou_rules") or {}, tree)
        except InvalidGuardrail as error:
            self.add_error("ou_rules", error.message)
        return cleaned


class ServiceControlPolicyForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = ServiceControlPolicy
        fields = ("payer", "name", "description", "document", "target_ous", "active")

    def clean_document(self) -> Any:
        # The same check as saving through the service: what Organizations would refuse.
        document = self.cleaned_data.get("document")
        try:
            scp_document_check(document)
        except InvalidGuardrail as error:
            raise forms.ValidationError(error.message) from error
        return document

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        payer = cleaned.get("payer") or getattr(self.instance, "payer", None)
        targets = cleaned.get("target_ous")
        if payer is not None and targets is not None:
            known = {ROOT, *ou_every_path(ou_paths(payer.ou_tree or []))}
            if not isinstance(targets, list) or not targets or set(targets) - known:
                self.add_error("target_ous", f"A list of OUs of the payer's tree ({', '.join(sorted(known))}).")
        return cleaned


class ServiceControlPolicyVersionInline(admin.TabularInline):  # type: ignore[type-arg]
    model = ServiceControlPolicyVersion
    fields = ("version", "target_ous", "document", "created_at", "created_by")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ServiceControlPolicy)
class ServiceControlPolicyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = ServiceControlPolicyForm
    inlines = [ServiceControlPolicyVersionInline]
    list_display = (
        "name",
        "payer",
        "target_ous",
        "version",
        "active",
        "drift",
        age_column("updated_at", description="updated"),
    )
    list_filter = ("payer", "active")
    search_fields = ("name", "description")
    readonly_fields = ("version", "policy_id", "drift", "updated_at")

    def get_readonly_fields(self, request: HttpRequest, obj: ServiceControlPolicy | None = None) -> Any:
        # Found by payer and name in Organizations (bespoke-<name>): never renamed.
        return (*self.readonly_fields, "payer", "name") if obj is not None else self.readonly_fields

    def save_model(self, request: HttpRequest, obj: ServiceControlPolicy, form: Any, change: bool) -> None:
        # Through the service: the targets checked against the payer's tree, a new version.
        try:
            saved = scp_save(
                payer_name=obj.payer.name,
                name=obj.name,
                document=obj.document,
                target_ous=list(obj.target_ous),
                description=obj.description,
                saved_by=request.user.get_username(),
            )
        except InvalidGuardrail as error:
            self.message_user(request, error.message, level="ERROR")
            return
        if saved.active != obj.active:
            ServiceControlPolicy.objects.filter(pk=saved.pk).update(active=obj.active)
        obj.pk = saved.pk
        obj.refresh_from_db()

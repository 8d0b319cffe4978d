"""API clients in the operator console: what each may do (scopes), where (payer grants),
and its tokens.

A client is made with its first token (``manage.py create_client``, which shows the token
once), never here. Here its scopes and grants change; its tokens are shown — scopes and
expiry, never their digest — and none is issued.
"""

import re
from typing import Any, cast

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.accounts import api as accounts
from apps.clients.contracts import ALL_SCOPES, OPERATIONS_ADMIN
from apps.clients.models import ApiClient, ApiToken, PayerGrant
from apps.clients.services import ALL_PAYERS_NEEDS_OPERATOR, NO_PAYER_GRANTED
from apps.kernel.columns import age_column


class ApiTokenInline(admin.TabularInline):  # type: ignore[type-arg]
    model = ApiToken
    fields = ("prefix", "scopes", "created_at", "expires_at", "last_used_at", "revoked_at", "issued_by")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


class EnvironmentsField(forms.CharField):
    """A grant's environments as operators type them, ``dev, prd``; empty: all of them."""

    def prepare_value(self, value: Any) -> Any:
        return ", ".join(value) if isinstance(value, list) else value

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        text = super().to_python(value) or ""
        return sorted({part for part in re.split(r"[\s,]+", text) if part})

    def has_changed(self, initial: Any, data: Any) -> bool:
        # A blank row's initial is None, not []: both mean no environments.
        return sorted(initial or []) != self.to_python(data)


class PayerGrantForm(forms.ModelForm):  # type: ignore[type-arg]
    payer = forms.ChoiceField(help_text="An active payer.")
    environments = EnvironmentsField(
        required=False, help_text="Only these of the payer's environments, comma-separated; empty: all of them."
    )

    class Meta:
        model = PayerGrant
        fields = ("payer", "environments")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        names = accounts.payer_names()
        choices = [("", "---------"), *((name, name) for name in names)]
        granted = self.instance.payer if self.instance.pk else ""
        if granted and granted not in names:
            # Granted before its payer was deactivated: shown (and kept) as it is.
            choices.append((granted, f"{granted} (inactive)"))
        cast(forms.ChoiceField, self.fields["payer"]).choices = choices

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        name, environments = data.get("payer"), data.get("environments") or []
        if not name or not self.has_changed():
            return data
        payer = accounts.payer_get(name=name)
        if payer is None:
            self.add_error("payer", f"Payer {name} is not active: grant an active payer.")
            return data
        unknown = sorted(set(environments) - set(payer.allowed_environments))
        if unknown:
            self.add_error(
                "environments",
                f"Payer {name} has no environment {', '.join(unknown)}; "
                f"it allows {', '.join(payer.allowed_environments)}.",
            )
        return data


class PayerGrantFormSet(forms.BaseInlineFormSet):  # type: ignore[type-arg]
    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        kept = [form for form in self.forms if form.cleaned_data and not form.cleaned_data.get("DELETE")]
        # ``instance`` is the client as submitted: its form is cleaned before the grants.
        if not kept and not self.instance.all_payers:
            raise forms.ValidationError(NO_PAYER_GRANTED)


class PayerGrantInline(admin.TabularInline):  # type: ignore[type-arg]
    model = PayerGrant
    form = PayerGrantForm
    formset = PayerGrantFormSet
    extra = 1
    verbose_name = "payer grant"
    verbose_name_plural = "payer grants (what the client may request, read and command)"


class ApiClientForm(forms.ModelForm):  # type: ignore[type-arg]
    scopes = forms.MultipleChoiceField(
        choices=[(scope, scope) for scope in ALL_SCOPES],
        widget=forms.CheckboxSelectMultiple,
        help_text="What the client may do; each token holds some of these.",
    )

    class Meta:
        model = ApiClient
        fields = ("name", "scopes", "all_payers", "active")

    def clean_scopes(self) -> list[str]:
        return sorted(set(self.cleaned_data.get("scopes") or []))

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        if data.get("all_payers") and OPERATIONS_ADMIN not in (data.get("scopes") or []):
            self.add_error("all_payers", ALL_PAYERS_NEEDS_OPERATOR)
        return data


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = ApiClientForm
    list_display = ("name", "active", "scopes", "payers", age_column("created_at"))
    search_fields = ("name",)
    list_filter = ("active", "all_payers")
    fields = ("id", "name", "scopes", "all_payers", "active", "created_at")
    readonly_fields = ("id", "created_at")
    inlines = [PayerGrantInline, ApiTokenInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ApiClient]:
        return super().get_queryset(request).prefetch_related("grants")

    @admin.display(description="payers")
    def payers(self, client: ApiClient) -> str:
        if client.all_payers:
            return "every payer"
        return "; ".join(str(grant) for grant in client.grants.all()) or "-"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # made with its first token: manage.py create_client

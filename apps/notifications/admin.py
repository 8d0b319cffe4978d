"""Operators in the admin: subscriptions, their deliveries (with the detail of what went
wrong, which clients never see), a redrive for failed deliveries, and the email log.

A subscription's signing secret is never shown here, nor its ciphertext: it appears once,
as a message, when an operator adds a subscription or rotates its secret (which takes the
``notifications.rotate_secret`` permission).
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.clients import api as clients
from apps.kernel.columns import age_column, short_id_column
from apps.kernel.pills import pill_column
from apps.kernel.readonly import ReadOnlyAdmin
from apps.notifications.contracts import WEBHOOK_EVENT_TYPES
from apps.notifications.delivery import webhook_url_problem
from apps.notifications.models import EmailNotification, IntegrationCall, WebhookDelivery, WebhookSubscription
from apps.notifications.services import delivery_redeliver, subscription_create, subscription_rotate_secret

_DELIVERY_FIELDS = (
    "id",
    "event_type",
    "event_id",
    "state",
    "attempts",
    "last_status_code",
    "last_outcome",
    "last_error",
    "created_at",
    "last_attempt_at",
    "delivered_at",
)


# A busy subscription has thousands of deliveries; its page shows the newest (all are in
# the deliveries list, filtered by subscription).
RECENT_DELIVERIES = 20


class WebhookDeliveryInline(admin.TabularInline):  # type: ignore[type-arg]
    model = WebhookDelivery
    verbose_name_plural = f"recent deliveries (newest {RECENT_DELIVERIES})"
    fields = _DELIVERY_FIELDS
    readonly_fields = fields
    ordering = ("-created_at",)
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


class WebhookSubscriptionForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = WebhookSubscription
        fields = ("client_id", "url", "events", "description", "active")

    def clean_client_id(self) -> str:
        client_id = str(self.cleaned_data.get("client_id") or "").strip()
        if clients.client_get(client_id=client_id) is None:
            raise forms.ValidationError("No API client has this id.")
        return client_id

    def clean_url(self) -> str:
        url = str(self.cleaned_data.get("url") or "")
        problem = webhook_url_problem(url)
        if problem:
            raise forms.ValidationError(problem)
        return url

    def clean_events(self) -> list[str]:
        events = self.cleaned_data.get("events") or []
        if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
            raise forms.ValidationError('A JSON list of event types, e.g. ["run.failed"]; [] for all.')
        unknown = sorted(set(events) - set(WEBHOOK_EVENT_TYPES))
        if unknown:
            raise forms.ValidationError(
                f"Unknown event type(s): {', '.join(unknown)}. Known: {', '.join(WEBHOOK_EVENT_TYPES)}."
            )
        return list(dict.fromkeys(events))


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    # The secret (and its ciphertext) is on no page: not in the list, not on a subscription's.
    list_display = (
        "url",
        short_id_column("client_id", description="client"),
        "events",
        "description",
        "active",
        age_column("unhealthy_since", description="unhealthy"),
        age_column("created_at"),
    )
    list_filter = ("active",)
    search_fields = ("id", "url", "client_id", "description")
    inlines = [WebhookDeliveryInline]
    form = WebhookSubscriptionForm
    actions = ["rotate_secret"]

    def get_formset_kwargs(self, request: HttpRequest, obj: WebhookSubscription, inline: Any, prefix: str) -> Any:
        kwargs = super().get_formset_kwargs(request, obj, inline, prefix)
        if isinstance(inline, WebhookDeliveryInline) and obj.pk:
            newest = WebhookDelivery.objects.filter(subscription=obj).order_by("-created_at")[:RECENT_DELIVERIES]
            kwargs["queryset"] = WebhookDelivery.objects.filter(id__in=list(newest.values_list("id", flat=True)))
        return kwargs

    def get_fields(self, request: HttpRequest, obj: WebhookSubscription | None = None) -> Any:
        if obj is None:
            return ("client_id", "url", "events", "description")
        return (
            "id",
            "client_id",
            "url",
            "events",
            "description",
            "active",
            "created_at",
            "failing_since",
            "unhealthy_since",
            "disabled_at",
        )

    def get_readonly_fields(self, request: HttpRequest, obj: WebhookSubscription | None = None) -> Any:
        # Fixed once created (a receiver trusts the URL and secret it was set up with);
        # operators may only describe or (de)activate a subscription, or rotate its secret.
        if obj is None:
            return ()
        return ("id", "client_id", "url", "events", "created_at", "failing_since", "unhealthy_since", "disabled_at")

    def save_model(self, request: HttpRequest, obj: WebhookSubscription, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        # Created as the API creates it: an id, a fresh secret, the time.
        issued = subscription_create(
            client_id=obj.client_id, url=obj.url, events=obj.events or [], description=obj.description
        )
        obj.pk = issued.subscription.id
        obj.refresh_from_db()
        _show_secret_once(request, obj, issued.secret)

    def has_rotate_secret_permission(self, request: HttpRequest) -> bool:
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.rotate_secret")

    @admin.action(description="Rotate the signing secret (shows the new one once)", permissions=["rotate_secret"])
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[WebhookSubscription]) -> None:
        for subscription in queryset:
            _show_secret_once(request, subscription, subscription_rotate_secret(subscription_id=subscription.id))


def _show_secret_once(request: HttpRequest, subscription: WebhookSubscription, secret: str) -> None:
    messages.warning(
        request,
        f"Signing secret of {subscription.url} ({subscription.id}): {secret} — copy it now and give it to "
        "the client: it is not shown again. Deliveries are signed with it from now on.",
    )


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = (
        short_id_column(),
        "subscription",
        "event_type",
        pill_column("state"),
        "attempts",
        "last_status_code",
        age_column("created_at"),
    )
    list_filter = ("state", "event_type", "subscription")
    search_fields = ("id", "event_id", "subscription__url", "subscription__client_id")
    date_hierarchy = "created_at"
    readonly_fields = ("subscription", *_DELIVERY_FIELDS, "payload")
    actions = ["redeliver"]

    def has_redeliver_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("notifications.redeliver_webhookdelivery")

    @admin.action(description="Deliver the selected failed deliveries again", permissions=["redeliver"])
    def redeliver(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        redelivered = sum(delivery_redeliver(delivery_id=d.id) for d in queryset)
        self.message_user(request, f"{redelivered} delivery(ies) queued again.", messages.SUCCESS)


@admin.register(EmailNotification)
class EmailNotificationAdmin(ReadOnlyAdmin):
    list_display = (
        short_id_column("request_id", description="request"),
        "outcome",
        "recipients",
        "subject",
        age_column("sent_at", description="sent"),
    )
    list_filter = ("outcome",)
    search_fields = ("request_id", "subject", "message_id")
    readonly_fields = [f.name for f in EmailNotification._meta.fields]


@admin.register(IntegrationCall)
class IntegrationCallAdmin(ReadOnlyAdmin):
    """What each integration step asked of its endpoint, and what came of it."""

    list_display = (
        "step",
        "endpoint",
        "status",
        short_id_column("request_id", description="request"),
        "http_status",
        age_column("created_at", description="called"),
        age_column("deadline_at", description="deadline"),
    )
    list_filter = ("status", "step", "endpoint")
    search_fields = ("request_id", "run_id", "id")
    readonly_fields = [f.name for f in IntegrationCall._meta.fields]

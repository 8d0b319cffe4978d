"""History in the admin: looked at, acted on through the declared actions, never edited.

A model admin whose rows are records of what happened (runs and their steps, requests,
outbox messages, audit entries, deliveries, dead letters) is a ``ReadOnlyAdmin``: its page
shows values, not form fields, and has no Save or Delete — so nobody rewrites history by
accident, and the audit log records only what somebody meant to do. Viewing still needs
the model's view permission; each action still needs its own.
"""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.utils.text import capfirst


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        # Titled by what it lists, not "Select … to view".
        title = capfirst(str(self.opts.verbose_name_plural))
        return super().changelist_view(request, {"title": title, **(extra_context or {})})

"""Coloured status pills for the admin's change lists: one palette for every status field."""

from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.utils.html import format_html
from django.utils.safestring import SafeString

# Tone per status value, shared by requests, runs, step runs, dead letters, webhook
# deliveries and accounts. Values not listed render neutral rather than failing.
TONES: dict[str, str] = {
    "succeeded": "ok",
    "active": "ok",
    "allocated": "ok",
    "redriven": "ok",
    "failed": "bad",
    "open": "bad",
    "cancelled": "muted",
    "discarded": "muted",
    "closed": "muted",
    "skipped": "muted",
    "released": "muted",
    "unmanaged": "warn",
    "closing": "warn",
    "awaiting_approval": "warn",
    "pending": "wait",
    "accepted": "wait",
    "running": "busy",
    "provisioning": "busy",
    "creating": "busy",
}


def status_tone(value: str) -> str:
    return TONES.get(value, "neutral")


def status_pill(value: object) -> SafeString:
    """``value`` as a pill coloured by its tone (the stylesheet's ``.pill-<tone>``)."""
    text = str(value or "")
    return format_html('<span class="pill pill-{}" data-status="{}">{}</span>', status_tone(text), text, text)


def pill_column(field: str, *, description: str | None = None) -> Callable[[Any], SafeString]:
    """A ``list_display`` entry showing ``field`` as a pill, sortable by the field."""

    @admin.display(description=description or field, ordering=field)
    def column(obj: Any) -> SafeString:
        return status_pill(getattr(obj, field))

    column.__name__ = f"{field}_pill"
    return column


def usage_bar(fraction: float, text: str) -> SafeString:
    """A small bar filled to ``fraction`` (0.0-1.0) beside its percentage and ``text``."""
    level = "full" if fraction >= 0.9 else "high" if fraction >= 0.7 else ""
    return format_html(
        '<span class="usage" data-value="{}"><span class="usage-track"><span class="usage-fill {}" '
        'style="width: {}%"></span></span><span class="usage-text">{} ({})</span></span>',
        f"{fraction * 100:.1f}",
        level,
        f"{min(max(fraction, 0.0), 1.0) * 100:.1f}",
        f"{fraction:.1%}",
        text,
    )

"""Time and ids as the operator console shows them, in every context's admin lists and on
the console's own pages.

Timestamps always carry seconds (a step takes a second). Where the age reads better than
the date ("3 min ago") the absolute time is in the element's title, and the reverse. Ids
are shortened to what an operator scans and compares (the first 8 characters, as git
shortens commits), the full id in the title; every search takes the short form too.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.contrib import admin
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from apps.kernel import clock

SHORT_ID_LENGTH = 8
NOTHING = "-"  # what an empty time or duration shows, as the admin shows empty values


def absolute(value: datetime) -> str:
    """``2026-12-06 12:25:03 UTC``: in the site's time zone, to the second."""
    local = timezone.localtime(value)
    return f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()}"


def duration_text(seconds: float) -> str:
    """``0.06 s``, ``4.2 s``, ``12 s``, ``3 min 12 s``, ``2 h 5 min``, ``3 d 4 h``."""
    seconds = max(seconds, 0.0)
    if seconds < 1:
        return f"{seconds:.2f} s"
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def ago_text(value: datetime, *, now: datetime | None = None) -> str:
    """``just now``, ``40 s ago``, ``3 min ago``, ``2 h ago``, ``5 days ago``; past a month,
    the date. A time ahead of the clock (a retry scheduled) reads ``in 3 min``."""
    seconds = ((now or clock.now()) - value).total_seconds()
    ahead = seconds < 0
    seconds = abs(seconds)
    if seconds < 2:
        return "just now"
    if seconds < 60:
        text = f"{int(seconds)} s"
    elif seconds < 3600:
        text = f"{int(seconds // 60)} min"
    elif seconds < 86400:
        text = f"{int(seconds // 3600)} h"
    elif seconds < 30 * 86400:
        days = int(seconds // 86400)
        text = f"{days} day{'s' if days > 1 else ''}"
    else:
        return f"{timezone.localtime(value):%Y-%m-%d}"
    return f"in {text}" if ahead else f"{text} ago"


def ago(value: datetime | None, *, now: datetime | None = None) -> SafeString:
    """``3 min ago``, the absolute time in its title."""
    if value is None:
        return format_html("{}", NOTHING)
    return format_html(
        '<time class="ago" datetime="{}" title="{}">{}</time>',
        value.isoformat(),
        absolute(value),
        ago_text(value, now=now),
    )


def at(value: datetime | None, *, now: datetime | None = None, time_only: bool = False) -> SafeString:
    """``2026-12-06 12:25:03`` (``12:25:03`` with ``time_only``), its age in the title."""
    if value is None:
        return format_html("{}", NOTHING)
    local = timezone.localtime(value)
    shown = f"{local:%H:%M:%S}" if time_only else f"{local:%Y-%m-%d %H:%M:%S}"
    return format_html(
        '<time class="at" datetime="{}" title="{} ({})">{}</time>',
        value.isoformat(),
        absolute(value),
        ago_text(value, now=now),
        shown,
    )


def took(start: datetime | None, end: datetime | None, *, now: datetime | None = None) -> SafeString:
    """How long from ``start`` to ``end``; still going without an ``end`` (``3 min…``)."""
    if start is None:
        return format_html("{}", NOTHING)
    if end is None:
        return format_html(
            '<span class="took ongoing" title="still going">{}…</span>',
            duration_text(((now or clock.now()) - start).total_seconds()),
        )
    return format_html('<span class="took">{}</span>', duration_text((end - start).total_seconds()))


def short_id(value: object) -> SafeString:
    """The first characters of an id, the whole id in the title."""
    text = str(value or "")
    if not text:
        return format_html("{}", NOTHING)
    return format_html('<code class="short-id" title="{}">{}</code>', text, text[:SHORT_ID_LENGTH])


# --- Columns of the admin's change lists -----------------------------------------------------


def short_id_column(field: str = "id", *, description: str = "id") -> Callable[[Any], SafeString]:
    @admin.display(description=description, ordering=field)
    def column(obj: Any) -> SafeString:
        return short_id(getattr(obj, field))

    column.__name__ = f"{field}_short"
    return column


def age_column(field: str, *, description: str = "age") -> Callable[[Any], SafeString]:
    """How long ago ``field`` was, newest first when sorted by it."""

    @admin.display(description=description, ordering=f"-{field}")
    def column(obj: Any) -> SafeString:
        return ago(getattr(obj, field))

    column.__name__ = f"{field}_age"
    return column


def duration_column(
    start: str, end: str | Callable[[Any], datetime | None], *, description: str = "took"
) -> Callable[[Any], SafeString]:
    """From ``start`` to ``end`` (a field, or a function of the row: None while it goes on)."""

    def ended(obj: Any) -> datetime | None:
        return end(obj) if callable(end) else getattr(obj, end)

    @admin.display(description=description)
    def column(obj: Any) -> SafeString:
        return took(getattr(obj, start), ended(obj))

    column.__name__ = f"{start}_took"
    return column

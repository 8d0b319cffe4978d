"""Typed readers for settings that come from the environment.

Every setting is declared once in ``base.py`` with one of these; a missing required
value fails at start-up with the variable's name instead of at first use.
"""

import os

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_REQUIRED = object()


def env_str(name: str, default: str | None = None, *, required: bool = False) -> str:
    value = os.environ.get(name)
    if value is not None:
        return value
    if required or default is None:
        raise ImproperlyConfigured(f"Set the environment variable {name}.")
    return default


def env_optional(name: str) -> str | None:
    value = os.environ.get(name, "")
    return value or None


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), not {raw!r}.")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as error:
        raise ImproperlyConfigured(f"{name} must be an integer, not {raw!r}.") from error


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError as error:
        raise ImproperlyConfigured(f"{name} must be a number, not {raw!r}.") from error


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_seconds_list(name: str, default: list[int]) -> list[int]:
    """Comma-separated whole seconds, at least one, none negative."""
    items = env_list(name, [str(item) for item in default])
    try:
        values = [int(item) for item in items]
    except ValueError as error:
        raise ImproperlyConfigured(f"{name} must list whole seconds separated by commas.") from error
    if not values or min(values) < 0:
        raise ImproperlyConfigured(f"{name} must list at least one delay, none negative.")
    return values

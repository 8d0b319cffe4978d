from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    """The operator console: the admin's dashboard, look and status pills (no models)."""

    name = "apps.console"
    label = "console"

from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    """The operator console: the admin's look, its dashboard, the pages of a run, a request,
    a command and an account with their buttons, and the search (no models)."""

    name = "apps.console"
    label = "console"

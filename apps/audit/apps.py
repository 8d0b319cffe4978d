from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "apps.audit"
    label = "audit"
    verbose_name = "Audit log"

    def ready(self) -> None:
        # The receivers are connected once and act only inside a request's audit scope
        # (a contextvar the middleware opens), so they cost nothing elsewhere and never
        # see another thread's or task's saves.
        from apps.audit import row_changes

        row_changes.connect_model_signals()

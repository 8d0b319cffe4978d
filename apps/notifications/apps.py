from django.apps import AppConfig
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class NotificationsConfig(AppConfig):
    name = "apps.notifications"
    label = "notifications"
    verbose_name = "Notifications (email and webhooks)"

    def ready(self) -> None:
        from apps.kernel import catalog
        from apps.notifications.contracts import STEPS

        catalog.declare(STEPS)
        # Fail at start-up, naming the setting, rather than at the first subscription or
        # delivery: every process that loads this app encrypts or decrypts signing secrets
        # and sends webhooks. The deployable modes have no default for either.
        from apps.kernel.egress import Policy
        from apps.notifications.secret_store import keys_problem

        problem = keys_problem(list(getattr(settings, "WEBHOOK_SECRET_KEYS", [])))
        if problem:
            raise ImproperlyConfigured(problem)
        try:
            Policy.build(require_https=True, allowed_networks=list(getattr(settings, "WEBHOOK_ALLOWED_NETWORKS", [])))
        except ValueError as error:
            raise ImproperlyConfigured(f"WEBHOOK_ALLOWED_NETWORKS: {error}") from None

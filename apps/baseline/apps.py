from django.apps import AppConfig


class BaselineConfig(AppConfig):
    name = "apps.baseline"
    label = "baseline"
    verbose_name = "Account baseline"

    def ready(self) -> None:
        from apps.baseline.contracts import STEPS
        from apps.kernel import catalog

        catalog.declare(STEPS)

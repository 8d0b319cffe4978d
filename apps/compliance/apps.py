from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    name = "apps.compliance"
    label = "compliance"
    verbose_name = "Compliance and verification"

    def ready(self) -> None:
        from apps.compliance.contracts import STEPS
        from apps.kernel import catalog

        catalog.declare(STEPS)

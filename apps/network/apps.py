from django.apps import AppConfig


class NetworkConfig(AppConfig):
    name = "apps.network"
    label = "network"
    verbose_name = "Network (IP pools and VPCs)"

    def ready(self) -> None:
        from apps.kernel import catalog
        from apps.network.contracts import STEPS

        catalog.declare(STEPS)

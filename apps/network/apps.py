from django.apps import AppConfig


class NetworkConfig(AppConfig):
    name = "apps.network"
    label = "network"
    verbose_name = "Network (IP pools and VPCs)"

    def ready(self) -> None:
        from apps.kernel import catalog
        from apps.network.contracts import STEPS

        catalog.declare(STEPS)

        from apps.kernel import metrics
        from apps.network.selectors import pool_utilisation

        metrics.gauge_provider(
            "bespoke_ip_pool_utilisation_ratio",
            lambda: [
                ({"payer": pool.payer, "region": pool.region, "pool": pool.name or pool.cidr}, pool.fraction)
                for pool in pool_utilisation()
            ],
        )

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"
    verbose_name = "Payers and accounts"

    def ready(self) -> None:
        from apps.accounts.contracts import STEPS
        from apps.kernel import catalog

        catalog.declare(STEPS)

        from apps.accounts import quotas
        from apps.kernel import metrics

        metrics.gauge_provider("bespoke_organizations_slots_in_use", quotas.slots_in_use)

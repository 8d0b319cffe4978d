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

        from django.db.models.signals import post_delete, post_save

        from apps.accounts.models import Blueprint, Payer
        from apps.accounts.selectors import payers_forget

        # A change to a payer or a blueprint clears this process's cached payers.
        for model in (Payer, Blueprint):
            post_save.connect(payers_forget, sender=model, dispatch_uid=f"payers_forget_save_{model.__name__}")
            post_delete.connect(payers_forget, sender=model, dispatch_uid=f"payers_forget_delete_{model.__name__}")

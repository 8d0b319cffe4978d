from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class ClientsConfig(AppConfig):
    name = "apps.clients"
    label = "clients"
    verbose_name = "API clients"

    def ready(self) -> None:
        from apps.clients.models import ApiClient, ApiToken, PayerGrant
        from apps.clients.services import principals_forget

        # A change to a token, a client or its grants clears this process's cached principals.
        for model in (ApiToken, ApiClient, PayerGrant):
            post_save.connect(principals_forget, sender=model, dispatch_uid=f"principals_forget_save_{model.__name__}")
            post_delete.connect(
                principals_forget, sender=model, dispatch_uid=f"principals_forget_delete_{model.__name__}"
            )

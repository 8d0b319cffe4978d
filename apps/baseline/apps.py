from django.apps import AppConfig


class BaselineConfig(AppConfig):
    name = "apps.baseline"
    label = "baseline"
    verbose_name = "Account baseline"

from django.apps import AppConfig


class KernelConfig(AppConfig):
    name = "apps.kernel"
    label = "kernel"
    verbose_name = "Kernel (outbox and inbox)"

    def ready(self) -> None:
        from apps.kernel import gauges, metrics

        metrics.gauge_provider("bespoke_outbox_lag_seconds", gauges.outbox_lag)
        metrics.gauge_provider("bespoke_dead_letters_open", gauges.dead_letters_open)

from django.apps import AppConfig


class KernelConfig(AppConfig):
    name = "apps.kernel"
    label = "kernel"
    verbose_name = "Kernel (outbox and inbox)"

    def ready(self) -> None:
        from django.conf import settings

        from apps.kernel import gauges, metrics, tracing

        tracing.configure(
            getattr(settings, "TRACING_EXPORTER", "off"),
            endpoint=getattr(settings, "TRACING_OTLP_ENDPOINT", None),
            service_name=getattr(settings, "TRACING_SERVICE_NAME", "bespoke"),
            sample_ratio=getattr(settings, "TRACING_SAMPLE_RATIO", 1.0),
        )

        metrics.gauge_provider("bespoke_outbox_lag_seconds", gauges.outbox_lag)
        metrics.gauge_provider("bespoke_dead_letters_open", gauges.dead_letters_open)

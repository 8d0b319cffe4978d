"""Bespoke's metrics: defined once here, recorded where things happen, exported two ways.

Every metric is declared in ``METRICS`` (name, kind, help, labels). Code records through
``inc``/``observe`` (or their ``*_on_commit`` forms inside a transaction, so a rolled-back
change is never counted); gauges that describe state (outbox lag, open dead letters, slots
in use, pool utilisation) are read when they are exported, from providers the contexts
register (``gauge_provider``) — the kernel imports no context.

``METRICS_EXPORTER`` chooses the exporter:
- ``prometheus`` (services and embedded modes): prometheus-client's registry, read by
  ``GET /metrics``; under gunicorn and Celery's prefork pool, ``PROMETHEUS_MULTIPROC_DIR``
  switches prometheus-client to its multi-process mode (one file per process, summed at
  scrape).
- ``emf`` (Lambda): one CloudWatch Embedded Metric Format line per record on standard
  output, which CloudWatch Logs turns into metrics — no API call on the hot path. Gauges
  are written by the periodic ``metrics.gauges`` job.
- ``off``.
"""

import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, TextIO

from django.conf import settings
from django.db import transaction

Kind = Literal["counter", "histogram", "gauge"]

# Seconds: from a 10 ms API call to a 30-minute account creation.
DURATION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)
EMF_NAMESPACE = "Bespoke"


@dataclass(frozen=True)
class Metric:
    name: str  # Prometheus adds ``_total`` to counters; EMF uses the name as it is
    kind: Kind
    help: str
    labels: tuple[str, ...] = ()
    unit: str = "Count"  # CloudWatch's unit for EMF
    # EMF only: dimension sets CloudWatch also aggregates by, besides every label, for the
    # alarms (a CloudWatch alarm names every dimension of the metric it watches).
    rollups: tuple[tuple[str, ...], ...] = ()

    @property
    def exported_name(self) -> str:
        return f"{self.name}_total" if self.kind == "counter" else self.name


METRICS: dict[str, Metric] = {
    metric.name: metric
    for metric in (
        Metric("bespoke_http_requests", "counter", "HTTP requests answered.", ("method", "route", "status")),
        Metric(
            "bespoke_http_request_duration_seconds",
            "histogram",
            "Time to answer an HTTP request.",
            ("method", "route"),
            "Seconds",
        ),
        Metric(
            "bespoke_account_requests",
            "counter",
            "Account requests accepted or refused, by error code (``none`` when accepted).",
            ("outcome", "code"),
        ),
        Metric(
            "bespoke_runs",
            "counter",
            "Workflow runs ended, by kind and outcome.",
            ("kind", "outcome"),
            rollups=(("outcome",),),
        ),
        Metric(
            "bespoke_time_to_ready_seconds",
            "histogram",
            "From a run's start to its success.",
            ("kind",),
            "Seconds",
        ),
        Metric(
            "bespoke_step_attempts",
            "counter",
            "Step attempts, by step and outcome.",
            ("step", "outcome"),
            rollups=(("outcome",),),
        ),
        Metric(
            "bespoke_step_duration_seconds",
            "histogram",
            "Time one step attempt took, by step and outcome.",
            ("step", "outcome"),
            "Seconds",
        ),
        Metric(
            "bespoke_aws_calls",
            "counter",
            "AWS API calls, by service, operation and error code (``ok`` when they succeeded).",
            ("service", "operation", "code"),
        ),
        Metric(
            "bespoke_aws_retries",
            "counter",
            "Attempts botocore repeated, by service and operation.",
            ("service", "operation"),
        ),
        Metric(
            "bespoke_aws_throttles",
            "counter",
            "Attempts AWS refused as throttled, by service and operation.",
            ("service", "operation"),
            rollups=((),),
        ),
        Metric("bespoke_inbox_duplicates", "counter", "Deliveries skipped as already processed.", ("handler",)),
        Metric("bespoke_outbox_published", "counter", "Outbox messages handed to the broker.", ("type",)),
        Metric("bespoke_dead_letters", "counter", "Messages parked as dead letters, by handler.", ("handler",)),
        Metric("bespoke_webhook_deliveries", "counter", "Webhook delivery attempts, by outcome.", ("outcome",)),
        Metric(
            "bespoke_outbox_lag_seconds",
            "gauge",
            "Age of the oldest unpublished outbox message (0 when none).",
            unit="Seconds",
        ),
        Metric("bespoke_dead_letters_open", "gauge", "Dead letters waiting for an operator."),
        Metric(
            "bespoke_organizations_slots_in_use",
            "gauge",
            "Account creations in flight per payer (Organizations allows 5).",
            ("payer",),
        ),
        Metric(
            "bespoke_ip_pool_utilisation_ratio",
            "gauge",
            "Share of each IP pool's addresses allocated.",
            ("payer", "region", "pool"),
            "None",
        ),
    )
}

Sample = tuple[Mapping[str, str], float]
GaugeProvider = Callable[[], Iterable[Sample]]
_providers: dict[str, GaugeProvider] = {}
_lock = threading.Lock()
_prometheus: dict[str, Any] = {}


class UnknownMetric(KeyError):
    pass


def _declared(name: str, kind: Kind, labels: Mapping[str, object]) -> Metric:
    metric = METRICS.get(name)
    if metric is None or metric.kind != kind:
        raise UnknownMetric(f"No {kind} named {name!r} in apps.kernel.metrics.METRICS.")
    if set(labels) != set(metric.labels):
        raise UnknownMetric(f"{name} takes labels {metric.labels}, got {tuple(labels)}.")
    return metric


def _exporter() -> str:
    return str(getattr(settings, "METRICS_EXPORTER", "prometheus"))


def inc(name: str, amount: float = 1, /, **labels: object) -> None:
    """Add ``amount`` to counter ``name``."""
    metric = _declared(name, "counter", labels)
    _record(metric, amount, labels)


def observe(name: str, value: float, /, **labels: object) -> None:
    """Record one observation of histogram ``name`` (seconds for durations)."""
    metric = _declared(name, "histogram", labels)
    _record(metric, value, labels)


def inc_on_commit(name: str, amount: float = 1, /, **labels: object) -> None:
    """``inc`` once the current transaction commits (at once outside one)."""
    _declared(name, "counter", labels)
    transaction.on_commit(lambda: inc(name, amount, **labels))


def observe_on_commit(name: str, value: float, /, **labels: object) -> None:
    """``observe`` once the current transaction commits (at once outside one)."""
    _declared(name, "histogram", labels)
    transaction.on_commit(lambda: observe(name, value, **labels))


def _record(metric: Metric, value: float, labels: Mapping[str, object]) -> None:
    exporter = _exporter()
    text = {key: str(label) for key, label in labels.items()}
    try:
        if exporter == "prometheus":
            instrument = _instrument(metric)
            bound = instrument.labels(**text) if metric.labels else instrument
            if metric.kind == "counter":
                bound.inc(value)
            else:
                bound.observe(value)
        elif exporter == "emf":
            emf_write(metric, [(text, value)])
    except Exception:  # metrics never break the work they describe
        import structlog

        structlog.get_logger(__name__).exception("metrics.record_failed", metric=metric.name)


def _instrument(metric: Metric) -> Any:
    instrument = _prometheus.get(metric.name)
    if instrument is None:
        with _lock:
            instrument = _prometheus.get(metric.name)
            if instrument is None:
                import prometheus_client

                if metric.kind == "counter":
                    instrument = prometheus_client.Counter(metric.name, metric.help, metric.labels)
                else:
                    instrument = prometheus_client.Histogram(
                        metric.name, metric.help, metric.labels, buckets=DURATION_BUCKETS
                    )
                _prometheus[metric.name] = instrument
    return instrument


@contextmanager
def timed(name: str, /, **labels: object) -> Iterator[dict[str, object]]:
    """Observe how long the block took in histogram ``name``; the block may set labels
    it only knows at the end (an outcome) in the dict it is given."""
    chosen: dict[str, object] = dict(labels)
    started = time.perf_counter()
    try:
        yield chosen
    finally:
        observe(name, time.perf_counter() - started, **chosen)


def gauge_provider(name: str, provider: GaugeProvider) -> None:
    """Register the function that reads gauge ``name``'s samples when it is exported
    (contexts register theirs when their app is ready)."""
    metric = METRICS.get(name)
    if metric is None or metric.kind != "gauge":
        raise UnknownMetric(f"No gauge named {name!r} in apps.kernel.metrics.METRICS.")
    _providers[name] = provider


def gauge_samples() -> Iterator[tuple[Metric, list[Sample]]]:
    """Every registered gauge with its current samples; a provider that fails is skipped
    (logged), so one broken gauge does not hide the others."""
    for name, provider in sorted(_providers.items()):
        metric = METRICS[name]
        try:
            samples: list[Sample] = [
                ({key: str(label) for key, label in labels.items()}, float(value)) for labels, value in provider()
            ]
        except Exception:
            import structlog

            structlog.get_logger(__name__).exception("metrics.gauge_failed", metric=name)
            continue
        yield metric, samples


class _GaugeCollector:
    """prometheus-client collector reading the gauges at scrape time."""

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        for metric, samples in gauge_samples():
            family = GaugeMetricFamily(metric.name, metric.help, labels=metric.labels)
            for labels, value in samples:
                family.add_metric([labels[label] for label in metric.labels], value)
            yield family


def prometheus_text() -> tuple[bytes, str]:
    """The Prometheus exposition of every metric of every process (multi-process mode
    when ``PROMETHEUS_MULTIPROC_DIR`` is set) and the gauges: (body, content type)."""
    import prometheus_client
    from prometheus_client import multiprocess

    registry = prometheus_client.CollectorRegistry()
    if getattr(settings, "PROMETHEUS_MULTIPROC_DIR", None) or os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        registry.register(_GaugeCollector())
        return prometheus_client.generate_latest(registry), prometheus_client.CONTENT_TYPE_LATEST
    body = prometheus_client.generate_latest(prometheus_client.REGISTRY)
    registry.register(_GaugeCollector())
    return body + prometheus_client.generate_latest(registry), prometheus_client.CONTENT_TYPE_LATEST


def emf_line(metric: Metric, labels: Mapping[str, str], value: float, *, at: float | None = None) -> dict[str, Any]:
    """One CloudWatch Embedded Metric Format document for one sample."""
    return {
        "_aws": {
            "Timestamp": int((time.time() if at is None else at) * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": EMF_NAMESPACE,
                    "Dimensions": [list(metric.labels), *[list(rollup) for rollup in metric.rollups]],
                    "Metrics": [{"Name": metric.name, "Unit": metric.unit}],
                }
            ],
        },
        **labels,
        metric.name: value,
    }


def emf_write(metric: Metric, samples: Iterable[Sample], *, stream: TextIO | None = None) -> None:
    out = stream or sys.stdout
    for labels, value in samples:
        out.write(json.dumps(emf_line(metric, labels, value), separators=(",", ":")) + "\n")
    out.flush()


def emit_gauges() -> int:
    """Write every gauge as EMF lines (the periodic job on Lambda); how many samples."""
    if _exporter() != "emf":
        return 0
    written = 0
    for metric, samples in gauge_samples():
        emf_write(metric, samples)
        written += len(samples)
    return written


def reset_for_tests() -> None:
    """Forget the prometheus instruments (tests read deltas; this is for a fresh registry)."""
    import prometheus_client

    with _lock:
        for instrument in _prometheus.values():
            prometheus_client.REGISTRY.unregister(instrument)
        _prometheus.clear()

"""OpenTelemetry tracing: one trace follows a request from the HTTP call through the
outbox, the broker and every step's AWS calls.

``TRACING_EXPORTER`` chooses where spans go: ``off`` (the default: no tracer provider
is made and every helper here returns at its first line, so the cost is one module
flag read), ``otlp`` (OTLP over HTTP to ``TRACING_OTLP_ENDPOINT``: a collector, or the
AWS Distro for OpenTelemetry's collector layer on Lambda, which sends them to X-Ray) or
``console`` (spans printed as JSON, for a developer).

The trace travels in W3C ``traceparent`` form: from the caller's header into the HTTP
span, from the current span into each outbox row's envelope (``trace``), and so in every
Celery message made from it, where the consumer continues it. Log lines carry the
current ``trace_id`` (``apps.kernel.logging``).
"""

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from django.http import HttpRequest, HttpResponse

if TYPE_CHECKING:
    from opentelemetry import context as otel_context
    from opentelemetry import trace

EXPORTERS = ("off", "otlp", "console")
SCOPE = "bespoke"
# OpenTelemetry is imported only once tracing is on: off, a process never loads it.
KINDS = ("internal", "server", "client", "producer", "consumer")

_tracer: "trace.Tracer | None" = None  # None: tracing is off
_provider: Any | None = None
_propagator: Any = None


def enabled() -> bool:
    return _tracer is not None


def use(provider: Any | None) -> None:
    """Send spans to ``provider`` (an SDK ``TracerProvider``), or stop tracing (None)."""
    global _tracer, _provider, _propagator
    if provider is not None and _propagator is None:
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        _propagator = TraceContextTextMapPropagator()
    _provider = provider
    _tracer = provider.get_tracer(SCOPE) if provider is not None else None


def flush(timeout_millis: int = 2000) -> None:
    """Export the spans still batched (at the end of a Lambda invocation, before the
    environment is frozen); nothing when tracing is off."""
    if _provider is not None:
        _provider.force_flush(timeout_millis)


def configure(exporter: str, *, endpoint: str | None = None, service_name: str = "bespoke") -> None:
    """Make the process's tracer provider for ``exporter`` (one of ``EXPORTERS``)."""
    if exporter not in EXPORTERS:
        raise ValueError(f"TRACING_EXPORTER must be one of {', '.join(EXPORTERS)}, not {exporter!r}.")
    if exporter == "off":
        use(None)
        return
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

    span_exporter: SpanExporter
    if exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        span_exporter = OTLPSpanExporter(endpoint=endpoint) if endpoint else OTLPSpanExporter()
    else:
        span_exporter = ConsoleSpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    # The batch processor exports from its own thread, and starts a new one in a forked
    # worker process (gunicorn's, Celery's).
    provider.add_span_processor(BatchSpanProcessor(span_exporter))
    use(provider)


def carrier() -> dict[str, str] | None:
    """The current span as a ``traceparent`` carrier, or None (tracing off, no span)."""
    if _tracer is None:
        return None
    values: dict[str, str] = {}
    _propagator.inject(values)
    return values or None


def _parent(values: Mapping[str, Any] | None) -> "otel_context.Context | None":
    if not values:
        return None
    clean = {str(key): str(value) for key, value in values.items() if isinstance(value, str)}
    return _propagator.extract(clean) if clean else None


@contextmanager
def span(
    name: str,
    *,
    parent: Mapping[str, Any] | None = None,
    kind: str = "internal",
    attributes: Mapping[str, Any] | None = None,
) -> "Iterator[trace.Span | None]":
    """A span around a block, the current span while it runs: the child of ``parent`` (a
    ``traceparent`` carrier) when one is given, else of the current span. ``kind`` is one
    of ``KINDS``. Yields None and does nothing else when tracing is off. An exception
    leaving the block is recorded."""
    if _tracer is None:
        yield None
        return
    with _tracer.start_as_current_span(
        name, context=_parent(parent), kind=_kind(kind), attributes=_attributes(attributes)
    ) as current:
        yield current


def start_span(name: str, *, kind: str = "client", attributes: Mapping[str, Any] | None = None) -> Any:
    """A span that is not made current (a leaf, ended by the caller), or None when off."""
    if _tracer is None:
        return None
    return _tracer.start_span(name, kind=_kind(kind), attributes=_attributes(attributes))


def _kind(name: str) -> "trace.SpanKind":
    from opentelemetry.trace import SpanKind

    return SpanKind[name.upper()]


def set_error(span: Any, description: str) -> None:
    """Mark ``span`` failed (an AWS error code, a 5xx)."""
    from opentelemetry.trace import StatusCode

    span.set_status(StatusCode.ERROR, description)


def _attributes(values: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not values:
        return None
    return {key: value for key, value in values.items() if isinstance(value, (str, bool, int, float))}


def current_ids() -> tuple[str, str] | None:
    """The current span's trace id and span id in hex, or None when there is none (and
    always when tracing is off)."""
    if _tracer is None:
        return None
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


def add_trace_ids(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: every line written inside a span carries its ``trace_id``."""
    ids = current_ids()
    if ids is not None:
        event.setdefault("trace_id", ids[0])
        event.setdefault("span_id", ids[1])
    return event


class TracingMiddleware:
    """Starts the request's server span (continuing the caller's ``traceparent``), named
    by the route pattern, never the raw path. Does nothing when tracing is off."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _tracer is None:
            return self.get_response(request)
        parent = {"traceparent": request.headers["traceparent"]} if "traceparent" in request.headers else None
        if parent is not None and "tracestate" in request.headers:
            parent["tracestate"] = request.headers["tracestate"]
        with span(
            f"HTTP {request.method}",
            parent=parent,
            kind="server",
            attributes={"http.request.method": request.method or "", "url.path": request.path},
        ) as current:
            response = self.get_response(request)
            if current is not None:
                match = getattr(request, "resolver_match", None)
                if match is not None and match.route:
                    current.update_name(f"HTTP {request.method} /{match.route}")
                    current.set_attribute("http.route", f"/{match.route}")
                current.set_attribute("http.response.status_code", response.status_code)
                if response.status_code >= 500:
                    set_error(current, f"HTTP {response.status_code}")
        return response

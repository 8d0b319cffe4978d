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

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from django.http import HttpRequest, HttpResponse

if TYPE_CHECKING:
    from opentelemetry import context as otel_context
    from opentelemetry import trace
    from opentelemetry.sdk.trace.sampling import Sampler

EXPORTERS = ("off", "otlp", "console")
SCOPE = "bespoke"
# OpenTelemetry is imported only once tracing is on: off, a process never loads it.
KINDS = ("internal", "server", "client", "producer", "consumer")

# A span's attributes: a mapping, or a function making it, called only when the span is
# recorded (an unsampled trace builds none).
Attributes = Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None

_tracer: "trace.Tracer | None" = None  # None: tracing is off
_provider: Any | None = None
_propagator: Any = None
# OpenTelemetry's functions and constants, looked up once when tracing is turned on
# rather than imported on every call.
_current_span: Callable[..., Any]
_in_context: Callable[..., Any]
_attach: Callable[[Any], Any]
_detach: Callable[[Any], None]
_kinds: dict[str, Any] = {}
_error_code: Any = None
_status: Callable[..., Any]
# The last span's ids as hex, by its (immutable) span context: a step's log lines and
# outbox rows ask for the same span's ids several times over.
_last_ids: tuple[Any, tuple[str, str]] = (None, ("", ""))


def enabled() -> bool:
    return _tracer is not None


def _bind() -> None:
    global _propagator, _current_span, _in_context, _attach, _detach, _error_code, _status
    from opentelemetry import context as otel_context
    from opentelemetry import trace
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    _propagator = TraceContextTextMapPropagator()
    _current_span = trace.get_current_span
    _in_context = trace.set_span_in_context
    _attach = otel_context.attach
    _detach = otel_context.detach
    _kinds.update({name: trace.SpanKind[name.upper()] for name in KINDS})
    _error_code = trace.StatusCode.ERROR
    _status = trace.Status


def use(provider: Any | None) -> None:
    """Send spans to ``provider`` (an SDK ``TracerProvider``), or stop tracing (None)."""
    global _tracer, _provider
    if provider is not None and _propagator is None:
        _bind()
    _provider = provider
    _tracer = provider.get_tracer(SCOPE) if provider is not None else None


def flush(timeout_millis: int = 2000) -> None:
    """Export the spans still batched (at the end of a Lambda invocation, before the
    environment is frozen); nothing when tracing is off."""
    if _provider is not None:
        _provider.force_flush(timeout_millis)


def sampler(ratio: float) -> "Sampler":
    """Parent-based trace-id ratio sampling: a new trace (no caller's ``traceparent``) is
    recorded with probability ``ratio``, decided by its trace id, and every span of a trace
    follows its root's decision, across the outbox and the broker too (the sampled flag
    travels in ``traceparent``)."""
    if not 0.0 <= ratio <= 1.0:
        raise ValueError(f"TRACING_SAMPLE_RATIO must be between 0 and 1, not {ratio!r}.")
    from opentelemetry.sdk.trace.sampling import ParentBasedTraceIdRatio

    return ParentBasedTraceIdRatio(ratio)


def configure(
    exporter: str, *, endpoint: str | None = None, service_name: str = "bespoke", sample_ratio: float = 1.0
) -> None:
    """Make the process's tracer provider for ``exporter`` (one of ``EXPORTERS``),
    recording ``sample_ratio`` of the new traces."""
    if exporter not in EXPORTERS:
        raise ValueError(f"TRACING_EXPORTER must be one of {', '.join(EXPORTERS)}, not {exporter!r}.")
    if exporter == "off":
        use(None)
        return
    chosen = sampler(sample_ratio)
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

    span_exporter: SpanExporter
    if exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        span_exporter = OTLPSpanExporter(endpoint=endpoint) if endpoint else OTLPSpanExporter()
    else:
        span_exporter = ConsoleSpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}), sampler=chosen)
    # The batch processor exports from its own thread, and starts a new one in a forked
    # worker process (gunicorn's, Celery's).
    provider.add_span_processor(BatchSpanProcessor(span_exporter))
    use(provider)


def _ids(context: Any) -> tuple[str, str]:
    global _last_ids
    last = _last_ids
    if last[0] is context:
        return last[1]
    ids = (format(context.trace_id, "032x"), format(context.span_id, "016x"))
    _last_ids = (context, ids)
    return ids


def carrier() -> dict[str, str] | None:
    """The current span as a W3C ``traceparent`` carrier (with ``tracestate`` when it has
    one), or None (tracing off, no span). An unsampled trace is carried too, its sampled
    flag 0, so that what follows it is not recorded either."""
    if _tracer is None:
        return None
    context = _current_span().get_span_context()
    if not context.is_valid:
        return None
    trace_id, span_id = _ids(context)
    values = {"traceparent": f"00-{trace_id}-{span_id}-{context.trace_flags:02x}"}
    if context.trace_state:
        values["tracestate"] = context.trace_state.to_header()
    return values


def _parent(values: Mapping[str, Any] | None) -> "otel_context.Context | None":
    if not values:
        return None
    clean = {str(key): str(value) for key, value in values.items() if isinstance(value, str)}
    return _propagator.extract(clean) if clean else None


class _Off:
    """The span of a process that does not trace: nothing at all."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        return None


_OFF = _Off()


def _start(name: str, context: Any, parent: Any, kind: str, attributes: Attributes) -> Any:
    """A started span (recording or not). A child of a sampled span is always recorded
    (parent-based sampling), so its attributes go in at its start; a new trace's root
    gets them only once the sampler has recorded it."""
    assert _tracer is not None
    if parent.is_valid:
        values = attributes() if callable(attributes) else attributes
        return _tracer.start_span(name, context=context, kind=_kinds[kind], attributes=values)
    started = _tracer.start_span(name, context=context, kind=_kinds[kind])
    if attributes and started.is_recording():
        started.set_attributes(attributes() if callable(attributes) else attributes)
    return started


class _Scope:
    __slots__ = ("_attributes", "_kind", "_name", "_not_errors", "_parent", "_span", "_token")

    def __init__(
        self,
        name: str,
        parent: Mapping[str, Any] | None,
        kind: str,
        attributes: Attributes,
        not_errors: tuple[type[BaseException], ...],
    ) -> None:
        self._name = name
        self._parent = parent
        self._kind = kind
        self._attributes = attributes
        self._not_errors = not_errors
        self._span: Any = None
        self._token: Any = None

    def __enter__(self) -> "trace.Span | None":
        context = _parent(self._parent) if self._parent else None
        parent = _current_span(context).get_span_context()
        if parent.is_valid and not parent.trace_flags.sampled:
            # An unsampled trace: no span is made (parent-based, none would be recorded),
            # but the parent stays current so that the outbox and the broker carry it on.
            if context is not None:
                self._token = _attach(context)
            return None
        started = _start(self._name, context, parent, self._kind, self._attributes)
        self._token = _attach(_in_context(started))
        if not started.is_recording():
            return None  # a new trace the sampler left out: current, so that it propagates
        self._span = started
        return started  # type: ignore[no-any-return]

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, _traceback: object) -> None:
        if self._token is not None:
            _detach(self._token)
        span = self._span
        if span is None:
            return
        # Only exceptions, not a GeneratorExit or KeyboardInterrupt; and not those the
        # caller says are no failure (a step that will be tried again).
        if isinstance(error, Exception) and not isinstance(error, self._not_errors):
            span.record_exception(error)
            span.set_status(_status(_error_code, f"{type(error).__name__}: {error}"))
        span.end()


def span(
    name: str,
    *,
    parent: Mapping[str, Any] | None = None,
    kind: str = "internal",
    attributes: Attributes = None,
    not_errors: tuple[type[BaseException], ...] = (),
) -> "_Scope | _Off":
    """A span around a block (a context manager), the current span while it runs: the
    child of ``parent`` (a ``traceparent`` carrier) when one is given, else of the current
    span. ``kind`` is one of ``KINDS``. Yields the span, or None when nothing is recorded:
    tracing is off (and nothing else happens), or the trace is not sampled (its context
    is carried on). An exception leaving the block marks the span failed, unless it is
    one of ``not_errors``."""
    if _tracer is None:
        return _OFF
    return _Scope(name, parent, kind, attributes, not_errors)


def start_span(name: str, *, kind: str = "client", attributes: Attributes = None) -> Any:
    """A recording span that is not made current (a leaf, ended by the caller), or None:
    tracing off, or the current trace not sampled."""
    if _tracer is None:
        return None
    parent = _current_span().get_span_context()
    if parent.is_valid and not parent.trace_flags.sampled:
        return None
    started = _start(name, None, parent, kind, attributes)
    if not started.is_recording():
        return None
    return started


def set_error(span: Any, description: str) -> None:
    """Mark ``span`` failed (an AWS error code, a 5xx, a step that failed for good)."""
    span.set_status(_status(_error_code, description))


def current_ids() -> tuple[str, str] | None:
    """The current span's trace id and span id in hex, or None when there is none (and
    always when tracing is off)."""
    if _tracer is None:
        return None
    context = _current_span().get_span_context()
    if not context.is_valid:
        return None
    return _ids(context)


def add_trace_ids(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: every line written inside a span carries its ``trace_id``."""
    if _tracer is None:
        return event
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
            attributes=lambda: {"http.request.method": request.method or "", "url.path": request.path},
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

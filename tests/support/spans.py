"""Spans recorded in memory: the tracer provider a tracing test installs for its duration."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from apps.kernel import tracing


@contextmanager
def recorded_spans(*, sampler: Any = None) -> Iterator[InMemorySpanExporter]:
    """Every finished span in an in-memory exporter (sampled by ``sampler``, or all of them)
    while the block runs; tracing is back to its configuration after it."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=sampler) if sampler is not None else TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use(provider)
    try:
        yield exporter
    finally:
        tracing.use(None)

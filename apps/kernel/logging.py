"""Structured (JSON) logs with the request id and run context bound.

``bind(...)`` adds keys to every log line of the current request or task; the request
id travels with each outbox message into the Celery tasks that handle it. A line written
inside a trace's span carries its ``trace_id`` and ``span_id`` (``apps.kernel.tracing``).
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import structlog

from apps.kernel.tracing import add_trace_ids

_shared_processors: list[Any] = [
    structlog.contextvars.merge_contextvars,
    add_trace_ids,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]

structlog.configure(
    processors=[
        *_shared_processors,
        structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
    ],
    logger_factory=structlog.stdlib.LoggerFactory(),
    wrapper_class=structlog.stdlib.BoundLogger,
    cache_logger_on_first_use=True,
)


def build_formatter(output: str = "json") -> logging.Formatter:
    """The formatter ``LOGGING`` installs: JSON lines, or readable lines for a terminal."""
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=False) if output == "console" else structlog.processors.JSONRenderer()
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )


def bind(**values: Any) -> None:
    structlog.contextvars.bind_contextvars(**{k: v for k, v in values.items() if v is not None})


def clear() -> None:
    structlog.contextvars.clear_contextvars()


def current_request_id() -> str | None:
    value = structlog.contextvars.get_contextvars().get("request_id")
    return str(value) if value else None


@contextmanager
def bound(**values: Any) -> Iterator[None]:
    """Bind ``values`` for the duration of a block (a task, a request)."""
    tokens = structlog.contextvars.bind_contextvars(**{k: v for k, v in values.items() if v is not None})
    try:
        yield
    finally:
        structlog.contextvars.reset_contextvars(**tokens)

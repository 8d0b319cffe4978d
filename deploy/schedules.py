"""Periodic jobs on Lambda: Zappa ``events`` that run the jobs of ``tasks/periodic.py`` —
the same functions Celery beat runs in services mode and the embedded runner on a timer.

A job in ``tasks.periodic.JOBS`` (its function ``sweep_outbox``, say) is scheduled on
Lambda as ``deploy.schedules.sweep_outbox``, every ``every_seconds`` rounded to
EventBridge's whole minutes. Adding a job is its one line in ``JOBS`` plus the entry
``python -m deploy.schedules`` prints, in ``zappa_settings.json``'s ``events``; a test
fails while the two differ. Each run gives its database connection back afterwards: no
HTTP request cycle closes it here.
"""

import json
import math
from collections.abc import Callable
from typing import Any

import structlog

log = structlog.get_logger(__name__)


def jobs() -> dict[str, Any]:
    """``tasks.periodic.JOBS`` by function name (imported on use: it reads the settings)."""
    from tasks.periodic import JOBS

    return {job.function.__name__: job for job in JOBS}


def expression(every_seconds: float) -> str:
    """EventBridge's rate for a job: whole minutes, at least one."""
    minutes = max(1, math.ceil(every_seconds / 60))
    return f"rate({minutes} minute{'s' if minutes > 1 else ''})"


def zappa_events() -> list[dict[str, str]]:
    """The ``events`` of the stages that run the schedules (the monolith's)."""
    return [
        {"function": f"{__name__}.{name}", "expression": expression(job.every_seconds)} for name, job in jobs().items()
    ]


def run(name: str) -> Any:
    from django.db import close_old_connections

    job = jobs()[name]
    close_old_connections()
    try:
        result = job.function()
    finally:
        close_old_connections()
    log.info("schedule.ran", job=job.name, result=result if isinstance(result, int | str | dict | None) else None)
    return result


def __getattr__(name: str) -> Callable[[Any, Any], Any]:
    """``deploy.schedules.sweep_outbox`` & co.: the functions Zappa's events name."""
    if name.startswith("__") or name not in jobs():
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

    def job(event: Any = None, context: Any = None) -> Any:
        return run(name)

    job.__name__ = job.__qualname__ = name
    return job


if __name__ == "__main__":
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.local")
    django.setup()
    print(json.dumps(zappa_events(), indent=4))

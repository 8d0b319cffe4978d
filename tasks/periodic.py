"""The periodic jobs, in one place: Celery beat runs them in services mode, the embedded
runner on a timer, and Zappa ``events`` on Lambda — the same functions everywhere."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from project.celery import app
from tasks.relay import sweep


@dataclass(frozen=True)
class Job:
    name: str  # the Celery task name
    function: Callable[[], Any]
    every_seconds: float


def sweep_outbox() -> int:
    """Relay what the after-commit path missed (broker down, process killed)."""
    return sweep()


def sweep_stuck_runs() -> dict[str, int]:
    """Dispatch again (or fail) steps that made no progress within their deadline."""
    # Imported here: a function that runs one context (the peeled network function) loads
    # this module but never runs this job, and must not load the workflow context.
    from apps.workflow import api as workflow

    return workflow.run_sweep_stuck(
        deadline_seconds=settings.STEP_DEADLINE_SECONDS, max_redispatches=settings.STEP_MAX_REDISPATCHES
    )


def reconcile_accounts() -> dict[str, Any]:
    """Compare every active payer's Organization with Bespoke's accounts (closed, moved, unknown)."""
    from apps.accounts import api as accounts

    return accounts.accounts_reconcile_all()


def poll_compliance() -> dict[str, int]:
    """Read every active account's AWS Config rule compliance."""
    from apps.compliance import api as compliance

    return compliance.compliance_poll()


def emit_gauges() -> int:
    """Write the gauges (outbox lag, open dead letters, slots, pools) as EMF lines, where
    nothing scrapes them (``METRICS_EXPORTER=emf``); elsewhere a scrape reads them."""
    from apps.kernel import metrics

    return metrics.emit_gauges()


JOBS: tuple[Job, ...] = (
    Job("outbox.sweep", sweep_outbox, settings.OUTBOX_SWEEP_INTERVAL_SECONDS),
    Job("workflow.sweep_stuck", sweep_stuck_runs, settings.STUCK_SWEEP_INTERVAL_SECONDS),
    Job("accounts.reconcile", reconcile_accounts, settings.RECONCILE_INTERVAL_SECONDS),
    Job("compliance.poll", poll_compliance, settings.COMPLIANCE_POLL_INTERVAL_SECONDS),
    Job("metrics.gauges", emit_gauges, settings.METRICS_GAUGES_INTERVAL_SECONDS),
)

for _job in JOBS:
    app.task(name=_job.name, ignore_result=True)(_job.function)

app.conf.beat_schedule = {job.name: {"task": job.name, "schedule": float(job.every_seconds)} for job in JOBS}

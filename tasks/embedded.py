"""The embedded mode's moving parts: Celery workers as threads of this process on the
in-process broker, the outbox sweeper on a timer, and moto's server for AWS.

The same Celery tasks run here as under ``celery worker`` in services mode; only the
transport (memory) and the pool (threads) differ. The API answers before the work is
done: genuinely asynchronous, in one process.
"""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import structlog
from celery.worker import WorkController
from django.db import close_old_connections

from apps.kernel import outbox, querylog
from project.celery import app
from tasks.periodic import JOBS
from tasks.subscriptions import all_queues

log = structlog.get_logger(__name__)


class _Worker(WorkController):
    """A worker that tells when its consumer is ready."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.ready = threading.Event()
        super().__init__(*args, **kwargs)

    def on_consumer_ready(self, consumer: object) -> None:
        self.ready.set()


@contextmanager
def _relaying_from_a_thread() -> Iterator[None]:
    was_in_background = outbox.relaying_in_background()
    outbox.relay_in_background(True)
    try:
        yield
    finally:
        outbox.relay_flush(timeout=10)
        outbox.relay_in_background(was_in_background)


@contextmanager
def worker_threads(*, concurrency: int = 4, startup_timeout: float = 30.0) -> Iterator[WorkController]:
    """Run a Celery worker (``concurrency`` threads, every queue) until the block ends.

    Meanwhile the process relays its outbox from one thread of its own, as a web server's
    processes do (``apps.kernel.outbox``): the worker threads hand on what they commit and
    take their next message, and the relay thread marks what it published several at a
    time — fewer writes queued on SQLite's one writer. Whatever is still held when the
    block ends is relayed before it returns; a process killed meanwhile loses nothing the
    in-process broker would not lose with it (the sweepers find both)."""
    with _relaying_from_a_thread():
        worker = _Worker(
            app=app,
            pool="threads",
            concurrency=concurrency,
            queues=all_queues(),
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
            loglevel="WARNING",
            hostname=f"embedded-{threading.get_ident()}@localhost",
        )
        thread = threading.Thread(target=worker.start, name="celery-worker", daemon=True)
        thread.start()
        try:
            if not worker.ready.wait(startup_timeout):
                raise RuntimeError("The embedded Celery worker did not start.")
            yield worker
        finally:
            worker.stop(in_sighandler=False)
            thread.join(10)


@contextmanager
def periodic_jobs(*, tick: float = 1.0) -> Iterator[None]:
    """Run the periodic jobs (outbox sweeper, stuck-run sweeper) on their intervals, in a
    thread: what Celery beat does in services mode."""
    stop = threading.Event()

    def loop() -> None:
        due = {job.name: time.monotonic() + job.every_seconds for job in JOBS}
        while not stop.wait(tick):
            for job in JOBS:
                if time.monotonic() < due[job.name]:
                    continue
                due[job.name] = time.monotonic() + job.every_seconds
                try:
                    job.function()
                except Exception:
                    log.warning("periodic.job_failed", job=job.name, exc_info=True)
                finally:
                    close_old_connections()
                    querylog.start_anew()  # DEBUG's query log: this job's queries only

    thread = threading.Thread(target=loop, name="periodic-jobs", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)

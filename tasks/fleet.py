"""The fleet of Celery workers, seen and steered through Celery's remote control: which
workers answer and which queues they consume (``/readyz``), and draining a worker — it stops
taking new messages and finishes the ones it holds (``manage.py drain``).

Remote control travels through the broker, so this works for workers on any host.
"""

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from project.celery import app
from tasks.subscriptions import all_queues


def broker_kind() -> str:
    """``embedded`` (in-process broker), ``serverless`` (SQS, consumed by Lambda) or ``services``."""
    url = str(settings.CELERY_BROKER_URL)
    if url.startswith("memory://"):
        return "embedded"
    if url.startswith("sqs://"):
        return "serverless"
    return "services"


def _queue_names(answer: Any) -> list[str]:
    return sorted(str(queue["name"]) for queue in answer or [] if isinstance(queue, dict) and "name" in queue)


def workers_consuming(*, timeout: float, destination: list[str] | None = None) -> dict[str, list[str]]:
    """Every worker that answered within ``timeout`` seconds, with the queues it consumes now."""
    # Named workers: stop waiting once each has answered (else the whole timeout).
    limit = len(destination) if destination else None
    answers = app.control.inspect(timeout=timeout, destination=destination, limit=limit).active_queues() or {}
    return {node: _queue_names(queues) for node, queues in sorted(answers.items())}


def queue_depths(queues: Iterable[str]) -> dict[str, int | None]:
    """Messages waiting in each queue (None where the broker can't tell)."""
    depths: dict[str, int | None] = {}
    with app.connection_for_read() as connection:
        channel: Any = connection.default_channel  # kombu's channels are untyped here
        for queue in queues:
            try:
                # Not passive: Redis keeps no empty queue, and declaring one of ours is harmless.
                depths[queue] = int(channel.queue_declare(queue=queue).message_count)
            except Exception:  # a transport without counts
                depths[queue] = None
    return depths


def workers_report(*, timeout: float) -> dict[str, Any]:
    """What ``/readyz`` says about the workers: who answers, which queues each consumes,
    which queues nobody consumes and how many messages wait in each."""
    kind = broker_kind()
    if kind == "serverless":
        return {
            "mode": kind,
            "status": "not_applicable",
            "detail": "Lambda consumes the SQS queues: there are no Celery workers to ask.",
        }
    consuming = workers_consuming(timeout=timeout)
    queues = all_queues()
    consumers = {queue: [node for node, names in consuming.items() if queue in names] for queue in queues}
    unconsumed = [queue for queue, nodes in consumers.items() if not nodes]
    depths = queue_depths(queues) if kind == "services" else {}
    return {
        "mode": kind,
        "status": "ok" if not unconsumed else "queues_without_workers",
        "workers": consuming,
        "queues": {
            queue: {"workers": consumers[queue], **({"waiting": depths[queue]} if queue in depths else {})}
            for queue in queues
        },
        "queues_without_workers": unconsumed,
    }


@dataclass
class DrainProgress:
    """What a drain found and did, for the command to report."""

    cancelled: dict[str, list[str]] = field(default_factory=dict)  # node -> queues it no longer consumes
    in_flight: dict[str, list[str]] = field(default_factory=dict)  # node -> "task[id]" still running
    finished: bool = False


def _in_flight(nodes: list[str], timeout: float) -> dict[str, list[str]]:
    """Tasks each node runs or holds to run now (messages with a future ETA excluded: a
    stopping worker hands those back to the broker)."""
    inspect = app.control.inspect(timeout=timeout, destination=nodes, limit=len(nodes))
    held: dict[str, list[str]] = {node: [] for node in nodes}
    for answers in (inspect.active() or {}, inspect.reserved() or {}):
        for node, tasks in answers.items():
            held.setdefault(node, []).extend(f"{t.get('name')}[{t.get('id')}]" for t in tasks or [])
    return {node: tasks for node, tasks in held.items() if tasks}


def drain(
    nodes: list[str],
    *,
    wait_seconds: float,
    reply_timeout: float = 2.0,
    poll_seconds: float = 0.5,
    on_progress: Callable[[DrainProgress], None] | None = None,
) -> DrainProgress:
    """Stop ``nodes`` consuming every queue (Celery's ``cancel_consumer``), then wait up to
    ``wait_seconds`` for the tasks they already hold to finish. The workers keep running,
    idle; stop them (SIGTERM, ``--shutdown``) or restart them to take work again."""
    progress = DrainProgress()
    for node, queues in workers_consuming(timeout=reply_timeout, destination=nodes).items():
        for queue in queues:
            app.control.cancel_consumer(queue, destination=[node], reply=True, timeout=reply_timeout, limit=1)
        progress.cancelled[node] = queues
    deadline = time.monotonic() + wait_seconds
    while True:
        progress.in_flight = _in_flight(nodes, reply_timeout)
        if on_progress:
            on_progress(progress)
        if not progress.in_flight:
            progress.finished = True
            return progress
        if time.monotonic() >= deadline:
            return progress
        time.sleep(poll_seconds)


def shutdown(nodes: list[str]) -> None:
    """Warm shutdown of ``nodes``: each finishes what it runs, then exits."""
    app.control.shutdown(destination=nodes)

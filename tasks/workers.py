"""Worker groups: which Celery worker consumes which queues, and with how many processes.

``WORKER_GROUPS`` (a setting, from the environment) names each group, its queues and its
concurrency — ``name=queue,queue[:concurrency]``, groups separated by spaces. The default:

    control=default,workflow,intake,notifications:2 steps=accounts,baseline,compliance:2 network=network:2

A queue is written as its context (``network``) or in full (``q.network``); ``*`` stands for
every queue that no other group names. The concurrency (prefork processes of the group's
worker) defaults to the number of CPUs, as Celery's does. ``manage.py worker <group>`` runs
one group's worker; ``make services`` runs one per group. See docs/services.md.
"""

import os
import re
import socket
from dataclasses import dataclass

from django.conf import settings

from tasks.subscriptions import all_queues

EVERY_OTHER_QUEUE = "*"
_NAME = re.compile(r"[a-z][a-z0-9_-]{0,30}")


class WorkerGroupsError(ValueError):
    """``WORKER_GROUPS`` is malformed or names a queue nobody publishes to."""


@dataclass(frozen=True)
class WorkerGroup:
    name: str
    queues: tuple[str, ...]
    concurrency: int


def _queue(name: str, known: list[str]) -> str:
    queue = name if name.startswith("q.") else f"q.{name}"
    if queue not in known:
        raise WorkerGroupsError(f"Unknown queue {name!r} in WORKER_GROUPS; the queues are {', '.join(known)}.")
    return queue


def parse_worker_groups(spec: str) -> list[WorkerGroup]:
    """The groups ``spec`` describes, in its order, with ``*`` resolved."""
    known = all_queues()
    parsed: list[tuple[str, list[str], int]] = []
    for item in spec.replace(";", " ").split():
        name, equals, rest = item.partition("=")
        if not equals or not _NAME.fullmatch(name):
            raise WorkerGroupsError(
                f"WORKER_GROUPS: {item!r} is not name=queue,queue[:concurrency] (a lower-case name, then its queues)."
            )
        queues_part, colon, concurrency_part = rest.partition(":")
        if colon:
            if not concurrency_part.isdigit() or int(concurrency_part) < 1:
                raise WorkerGroupsError(f"WORKER_GROUPS: the concurrency of {name!r} must be a positive integer.")
            concurrency = int(concurrency_part)
        else:
            concurrency = os.cpu_count() or 1
        queues = [q.strip() for q in queues_part.split(",") if q.strip()]
        if not queues:
            raise WorkerGroupsError(f"WORKER_GROUPS: the group {name!r} consumes no queue.")
        if any(existing == name for existing, _, _ in parsed):
            raise WorkerGroupsError(f"WORKER_GROUPS: the group {name!r} is named twice.")
        parsed.append((name, queues, concurrency))
    if not parsed:
        raise WorkerGroupsError("WORKER_GROUPS names no group.")

    named = {_queue(q, known) for _, queues, _ in parsed for q in queues if q != EVERY_OTHER_QUEUE}
    unnamed = [q for q in known if q not in named]
    groups = []
    for name, queues, concurrency in parsed:
        resolved: list[str] = []
        for queue in queues:
            for one in unnamed if queue == EVERY_OTHER_QUEUE else [_queue(queue, known)]:
                if one not in resolved:
                    resolved.append(one)
        if not resolved:
            raise WorkerGroupsError(f"WORKER_GROUPS: '*' leaves no queue for the group {name!r}.")
        groups.append(WorkerGroup(name=name, queues=tuple(resolved), concurrency=concurrency))
    return groups


def worker_groups() -> list[WorkerGroup]:
    return parse_worker_groups(settings.WORKER_GROUPS)


def worker_group(name: str) -> WorkerGroup:
    groups = worker_groups()
    for group in groups:
        if group.name == name:
            return group
    raise WorkerGroupsError(f"No worker group {name!r}; WORKER_GROUPS has {', '.join(g.name for g in groups)}.")


def unconsumed_queues(groups: list[WorkerGroup]) -> list[str]:
    """Queues that no group consumes: their messages would wait for ever."""
    consumed = {q for group in groups for q in group.queues}
    return [q for q in all_queues() if q not in consumed]


def node_name(group: str, instance: str | None = None) -> str:
    """The Celery node name of a group's worker: ``<group>.<instance>@<host>``.

    The instance is honcho's process number (``worker.network.2`` → ``2``) when honcho runs
    it, else the process id — unique on its host either way, so two workers of one group
    on one host answer remote control separately.
    """
    if instance is None:
        honcho_name = os.environ.get("HONCHO_PROCESS_NAME", "")
        instance = honcho_name.rsplit(".", 1)[-1] if honcho_name[-1:].isdigit() else str(os.getpid())
    return f"{group}.{instance}@{socket.gethostname()}"


def group_of(node: str) -> str:
    """The group a node name belongs to (``network.2@host`` → ``network``)."""
    return node.split("@", 1)[0].split(".", 1)[0]

"""System checks of the messaging layer's configuration (``manage.py check``)."""

from typing import Any

from django.core.checks import CheckMessage, Error, Warning, register

from tasks.workers import WorkerGroupsError, unconsumed_queues, worker_groups


@register()
def check_worker_groups(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """WORKER_GROUPS parses, and every queue has a group to consume it."""
    try:
        groups = worker_groups()
    except WorkerGroupsError as error:
        return [Error(str(error), id="tasks.E001")]
    return [
        Warning(
            f"No worker group consumes {queue}: its messages would wait for ever.",
            hint="Add it to a group of WORKER_GROUPS, or give a group '*' (every queue no other group names).",
            id="tasks.W001",
        )
        for queue in unconsumed_queues(groups)
    ]

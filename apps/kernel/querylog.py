"""Django's log of each connection's queries, kept while ``DEBUG`` is on (the embedded
mode): Django empties it as each request starts; a worker thread's connection serves task
after task, a relay thread batch after batch, so they empty it as each starts too, and it
holds one unit of work's queries instead of the connection's last 9,000."""

from django.db import connections


def start_anew() -> None:
    """Forget what this thread's connections logged — unless a caller is capturing their
    queries (``CaptureQueriesContext`` forces the log on; Django does not cut it short for
    a request either)."""
    for connection in connections.all(initialized_only=True):
        if not connection.force_debug_cursor:
            connection.queries_log.clear()

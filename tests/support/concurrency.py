"""Firing the same call from many threads at once, each with its own database connection."""

import threading
from collections.abc import Callable
from typing import Any

from django.db import connection


def all_at_once(call: Callable[[], Any], *, threads: int, timeout: float = 60) -> list[Any]:
    """Run ``call`` in ``threads`` threads released together by a barrier; their results.
    Any exception in a thread fails the caller."""
    barrier = threading.Barrier(threads)
    results: list[Any] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run() -> None:
        try:
            barrier.wait(timeout=30)
            result = call()
            with lock:
                results.append(result)
        except BaseException as error:
            with lock:
                errors.append(error)
        finally:
            connection.close()

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=timeout)
    assert not errors, errors
    assert not any(worker.is_alive() for worker in workers), "a thread did not finish"
    return results

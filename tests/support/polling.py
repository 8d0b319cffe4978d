import time
from collections.abc import Callable
from typing import Any


def wait_for(
    probe: Callable[[], Any], *, until: Callable[[Any], bool], timeout: float = 60.0, interval: float = 0.1
) -> Any:
    """Call ``probe`` until ``until(result)`` holds; fail with the last result after ``timeout``."""
    deadline = time.monotonic() + timeout
    result = probe()
    while not until(result):
        if time.monotonic() > deadline:
            raise AssertionError(f"Gave up after {timeout}s; last result: {result!r}")
        time.sleep(interval)
        result = probe()
    return result

"""The soak's own tooling: a Celery worker that exits on its own (a worker that cannot
start, say) fails the soak at once with its output, instead of leaving every request to
wait out the soak's deadline."""

import sys
from contextlib import ExitStack

import pytest

from tests.support.processes import running
from tests.support.soak import _Workers


def test_a_worker_that_exited_on_its_own_fails_the_soak_at_once_with_its_output() -> None:
    with ExitStack() as stack:
        crashed = stack.enter_context(
            running(
                [sys.executable, "-c", "print('AppRegistryNotReady'); raise SystemExit(3)"], env={}, name="soak-test"
            )
        )
        crashed.wait(timeout=30)
        workers = object.__new__(_Workers)
        workers.live = [crashed]

        with pytest.raises(AssertionError, match=r"(?s)exited with 3.*AppRegistryNotReady"):
            workers.assert_running()


def test_running_workers_pass() -> None:
    with ExitStack() as stack:
        alive = stack.enter_context(
            running([sys.executable, "-c", "import time; time.sleep(60)"], env={}, name="soak-test")
        )
        workers = object.__new__(_Workers)
        workers.live = [alive]

        workers.assert_running()

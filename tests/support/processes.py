"""Starting the service's own processes (gunicorn, celery worker, the embedded runner)
for end-to-end tests, and stopping them whatever happens."""

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

# Variables a child process must not inherit from the test run (it picks its own mode).
_MODE_VARIABLES = ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "BESPOKE_VAR_DIR")


def child_environment(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _MODE_VARIABLES}
    env.update(overrides)
    return env


@contextmanager
def running(command: list[str], *, env: Mapping[str, str], name: str) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``command`` in its own process group; on exit stop it and, if the test failed,
    its output is in the log file named in the assertion message."""
    log = tempfile.NamedTemporaryFile(prefix=f"bespoke-{name}-", suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen(
        command, cwd=ROOT, env=dict(env), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    process.log_path = log.name  # type: ignore[attr-defined]
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
        log.close()


def output_of(process: subprocess.Popen[bytes], *, tail: int | None = 4000) -> str:
    text = Path(process.log_path).read_text(errors="replace")  # type: ignore[attr-defined]
    return text[-tail:] if tail else text


def wait_until_serving(url: str, process: subprocess.Popen[bytes], *, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{process.args!r} exited with {process.returncode}:\n{output_of(process)}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:  # not up yet, or still loading
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout}s:\n{output_of(process)}")

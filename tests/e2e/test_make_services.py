"""``make services`` as a user runs it: one command brings up migrations, gunicorn, a worker
per group, beat and the emulated AWS with the demo organization; an account is vended end
to end; Ctrl-C stops every process; a second start on the same database works too."""

import os
import re
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from django.db import connection

from apps.cloud.emulator import free_port
from tests.support.factories import request_body
from tests.support.polling import wait_for
from tests.support.processes import child_environment, output_of, running, wait_until_serving
from tests.support.services import need_postgres, need_redis
from tests.support.stack import flush

pytestmark = [pytest.mark.slow, pytest.mark.services]

MARKER = "BESPOKE_TEST_STACK"


def processes_marked(marker: str) -> list[int]:
    """Every process whose environment carries ``MARKER=marker``: what the stack started."""
    needle = f"{MARKER}={marker}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if needle in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


@pytest.fixture
def database() -> Iterator[str]:
    """A database of its own that ``make services`` creates and migrates; dropped afterwards."""
    need_postgres()
    settings = connection.settings_dict
    name = f"{settings['NAME']}_make_services"
    server = f"postgres://{settings['USER']}@{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    yield f"{server}/{name}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def vend(base: str, token: str, short_name: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    body = request_body(tags__project_short_name=short_name)
    accepted = requests.post(f"{base}/v1/account-requests", json=body, headers=headers, timeout=10)
    assert accepted.status_code == 202, accepted.text
    return dict(
        wait_for(
            lambda: requests.get(accepted.headers["Location"], headers=headers, timeout=10).json(),
            until=lambda status: status["status"] in ("succeeded", "failed"),
            timeout=90,
            interval=0.25,
        )
    )


def lines_of(output: str, process: str) -> list[str]:
    """honcho's lines of one process (``12:00:01 worker.network | ...``)."""
    return [line for line in output.splitlines() if re.match(rf"\d\d:\d\d:\d\d {re.escape(process)}\s+\|", line)]


def stop_with_ctrl_c(stack: subprocess.Popen[bytes], marker: str) -> str:
    """What a terminal's Ctrl-C does: SIGINT to the foreground process group; then every
    process the stack started must be gone."""
    os.killpg(stack.pid, signal.SIGINT)
    stack.wait(timeout=30)
    wait_for(lambda: processes_marked(marker), until=lambda left: not left, timeout=15, interval=0.2)
    return output_of(stack, tail=None)


def test_make_services_vends_an_account_and_ctrl_c_stops_everything(database: str, tmp_path: Path) -> None:
    redis_url = need_redis()
    flush(redis_url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    marker = uuid.uuid4().hex
    env = child_environment(
        DATABASE_URL=database, REDIS_URL=redis_url, BESPOKE_VAR_DIR=str(tmp_path / "var"), **{MARKER: marker}
    )
    env.pop("AWS_ENDPOINT_URL", None)  # the emulated AWS, as a new user gets it
    command = ["make", "--no-print-directory", "services", f"PORT={port}"]

    with running(command, env=env, name="make-services") as stack:
        wait_until_serving(f"{base}/healthz", stack, timeout=240)
        token_file = tmp_path / "var" / "demo-token"
        wait_for(lambda: token_file.exists(), until=bool, timeout=60, interval=0.2)
        token = token_file.read_text().strip()

        status = vend(base, token, "first")
        assert status["status"] == "succeeded", f"{status}\n{output_of(stack)}"
        workers = requests.get(f"{base}/readyz", timeout=10).json()["workers"]
        assert {node.split("@")[0]: queues for node, queues in workers["workers"].items()} == {
            "control.1": ["q.default", "q.intake", "q.notifications", "q.workflow"],
            "steps.1": ["q.accounts", "q.baseline", "q.compliance"],
            "network.1": ["q.network"],
        }
        assert workers["queues_without_workers"] == []
        first_run = stop_with_ctrl_c(stack, marker)

    assert f"Creating the database {database.rsplit('/', 1)[1]}." in first_run
    assert "SIGINT received" in first_run
    assert token in first_run  # the banner shows it, like make run's
    # Every network step ran in the network group's worker, and only there.
    network_steps = [line for line in first_run.splitlines() if "step.succeeded" in line and "network.run_step" in line]
    assert len(network_steps) == 3, network_steps  # vpc, flow_logs, dns
    assert all(" worker.network " in line for line in network_steps), network_steps
    for process in ("web", "worker.control", "worker.steps", "worker.network", "beat", "aws"):
        assert lines_of(first_run, process), f"{process} printed nothing:\n{first_run[-3000:]}"

    # Again, on the same database (already migrated and seeded) with a new, empty emulator.
    marker = uuid.uuid4().hex
    env[MARKER] = marker
    with running(command, env=env, name="make-services-again") as stack:
        wait_until_serving(f"{base}/healthz", stack, timeout=240)
        wait_for(lambda: output_of(stack, tail=None), until=lambda out: "Press Ctrl-C" in out, timeout=60)
        assert token in output_of(stack, tail=None)  # the token from the first start still works
        status = vend(base, token, "second")
        assert status["status"] == "succeeded", f"{status}\n{output_of(stack)}"
        stop_with_ctrl_c(stack, marker)

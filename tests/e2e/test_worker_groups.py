"""Worker groups in services mode (real ``celery worker`` processes started as ``make
services`` starts them, gunicorn, PostgreSQL, Redis, moto's server): a group consuming only
``q.network`` runs every network step, and a drained worker finishes the step it holds and
takes no new one."""

import json
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest
import redis
import requests

from apps.workflow.models import StepRun
from tasks.demo import seed_demo
from tests.conftest import EmulatedAws
from tests.support.factories import request_body
from tests.support.polling import wait_for
from tests.support.processes import BIN, ROOT, output_of
from tests.support.services import need_postgres, need_redis
from tests.support.stack import flush, group_worker, gunicorn, services_environment

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.services]

NETWORK_STEPS = {"vpc", "flow_logs", "dns"}  # the demo blueprint's
TWO_GROUPS = "main=*:2 network=network:1"  # network alone; everything else in main


def steps_started(worker: Any) -> list[str]:
    """The steps a worker process started, in order, from its JSON log lines."""
    started = []
    for line in output_of(worker, tail=None).splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("event") == "step.started":
            started.append(entry["step"])
    return started


def readiness(base: str) -> dict[str, Any]:
    return dict(requests.get(f"{base}/readyz", timeout=10).json())


def workers_up(base: str, count: int) -> dict[str, Any]:
    return dict(
        wait_for(
            lambda: readiness(base)["workers"],
            until=lambda workers: len(workers["workers"]) == count and not workers["queues_without_workers"],
            timeout=60,
            interval=0.5,
        )
    )


def finished(location: str, headers: dict[str, str], *, timeout: float = 90) -> dict[str, Any]:
    return dict(
        wait_for(
            lambda: requests.get(location, headers=headers, timeout=10).json(),
            until=lambda body: body["status"] in ("succeeded", "failed"),
            timeout=timeout,
            interval=0.25,
        )
    )


@pytest.fixture
def demo(aws: EmulatedAws, tmp_path: Path) -> tuple[str, str]:
    """The demo organization (blueprint with the network steps) and a clean Redis: the
    API token and the Redis URL."""
    need_postgres()
    redis_url = need_redis()
    flush(redis_url)
    return seed_demo(var_dir=tmp_path).token, redis_url


def test_a_group_consuming_only_q_network_runs_every_network_step(demo: tuple[str, str], aws: EmulatedAws) -> None:
    token, redis_url = demo
    env = services_environment(aws_url=aws.url, redis_url=redis_url, WORKER_GROUPS=TWO_GROUPS)
    headers = {"Authorization": f"Bearer {token}"}

    with (
        group_worker(env, "main", instance="a") as main,
        group_worker(env, "network", instance="a") as network,
        gunicorn(env) as web,
    ):
        workers = workers_up(web.base, 2)
        host = socket.gethostname()
        assert workers["workers"][f"network.a@{host}"] == ["q.network"]
        assert "q.network" not in workers["workers"][f"main.a@{host}"]
        accepted = requests.post(f"{web.base}/v1/account-requests", json=request_body(), headers=headers, timeout=10)
        assert accepted.status_code == 202, accepted.text
        status = finished(accepted.headers["Location"], headers)

    assert status["status"] == "succeeded", status
    assert sorted(steps_started(network)) == sorted(NETWORK_STEPS)
    assert not NETWORK_STEPS & set(steps_started(main)), output_of(main)
    assert "Task network.run_step[" not in output_of(main, tail=None)


def test_a_drained_worker_finishes_its_step_and_takes_no_new_one(demo: tuple[str, str], aws: EmulatedAws) -> None:
    token, redis_url = demo
    # The vpc step takes ten seconds longer, so the drain (a new process: Django, then the
    # workers' answers) arrives while it runs, even on a busy machine.
    env = services_environment(
        aws_url=aws.url, redis_url=redis_url, WORKER_GROUPS=TWO_GROUPS, AWS_FAULTS="ec2:CreateVpc:lag=10"
    )
    headers = {"Authorization": f"Bearer {token}"}
    broker = redis.Redis.from_url(redis_url)
    drained = f"network.a@{socket.gethostname()}"

    with (
        group_worker(env, "main", instance="a"),
        group_worker(env, "network", instance="a") as first,
        gunicorn(env) as web,
    ):
        workers_up(web.base, 2)
        accepted = requests.post(f"{web.base}/v1/account-requests", json=request_body(), headers=headers, timeout=10)
        assert accepted.status_code == 202, accepted.text
        wait_for(lambda: steps_started(first), until=lambda started: "vpc" in started, timeout=60, interval=0.1)

        drain = subprocess.run(
            [str(BIN / "python"), "manage.py", "drain", drained, "--timeout", "60"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
        assert drain.returncode == 0, drain.stdout + drain.stderr
        assert f"{drained}: 1 in flight (network.run_step" in drain.stdout, drain.stdout
        assert f"{drained} no longer consumes q.network" in drain.stdout

        # The step in flight finished, and its run went on: flow_logs and dns wait in q.network.
        assert '"event": "step.succeeded"' in output_of(first, tail=None)
        wait_for(lambda: StepRun.objects.get(name="vpc").state, until=lambda state: state == "succeeded", timeout=30)
        wait_for(lambda: broker.llen("q.network"), until=lambda waiting: waiting == 2, timeout=30)
        assert readiness(web.base)["workers"]["queues_without_workers"] == ["q.network"]
        assert steps_started(first) == ["vpc"]

        # Another network worker takes them; the drained one still takes nothing.
        with group_worker(env, "network", instance="b") as second:
            status = finished(accepted.headers["Location"], headers)

    assert status["status"] == "succeeded", status
    assert steps_started(first) == ["vpc"]
    assert sorted(steps_started(second)) == ["dns", "flow_logs"]

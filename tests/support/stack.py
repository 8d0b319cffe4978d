"""The services mode as separate processes: gunicorn and ``celery worker`` with the
production settings, on the test database, real Redis, and moto's server for AWS."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from subprocess import Popen

import redis
from cryptography.fernet import Fernet
from django.db import connection

from apps.cloud.emulator import free_port
from tasks.subscriptions import all_queues
from tests.support.processes import BIN, child_environment, running, wait_until_serving


def test_database_url() -> str:
    """The database pytest-django created, for child processes."""
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def services_environment(*, aws_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    return child_environment(
        DJANGO_SETTINGS_MODULE="project.settings.production",
        DJANGO_SECRET_KEY="services-mode-test-key-" + "x" * 40,
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DJANGO_SECURE_SSL_REDIRECT="false",
        DATABASE_URL=test_database_url(),
        REDIS_URL=redis_url,
        AWS_ENDPOINT_URL=aws_url,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        TASK_RETRY_BASE_SECONDS="0.2",
        TASK_RETRY_MAX_SECONDS="2",
        LOG_LEVEL="INFO",
        # One key for the web and worker processes; webhooks go to the tests' receivers on loopback.
        WEBHOOK_SECRET_KEYS=Fernet.generate_key().decode(),
        WEBHOOK_REQUIRE_HTTPS="false",
        WEBHOOK_ALLOWED_NETWORKS="127.0.0.1/32",
        **extra,
    )


@contextmanager
def celery_worker(env: dict[str, str], *, concurrency: int = 2, name: str = "worker") -> Iterator[Popen[bytes]]:
    command = [
        str(BIN / "celery"),
        "-A",
        "project.celery:app",
        "worker",
        "-Q",
        ",".join(all_queues()),
        "--concurrency",
        str(concurrency),
        "--without-gossip",
        "--without-mingle",
        "--loglevel",
        "INFO",
    ]
    with running(command, env=env, name=name) as worker:
        yield worker


@contextmanager
def group_worker(env: dict[str, str], group: str, *, instance: str) -> Iterator[Popen[bytes]]:
    """The worker of one group of ``WORKER_GROUPS`` (in ``env``), as ``make services`` runs
    it; its Celery node is ``<group>.<instance>@<host>``."""
    command = [str(BIN / "python"), "manage.py", "worker", group, "--instance", instance]
    with running(command, env=env, name=f"worker-{group}-{instance}") as worker:
        yield worker


@dataclass
class Web:
    base: str
    process: Popen[bytes]


@contextmanager
def gunicorn(env: dict[str, str]) -> Iterator[Web]:
    port = free_port()
    command = [str(BIN / "gunicorn"), "project.wsgi", "-b", f"127.0.0.1:{port}", "-w", "2", "--timeout", "30"]
    with running(command, env=env, name="web") as process:
        base = f"http://127.0.0.1:{port}"
        wait_until_serving(f"{base}/healthz", process)
        yield Web(base=base, process=process)


def flush(redis_url: str) -> None:
    redis.Redis.from_url(redis_url).flushdb()

"""End to end in services mode: gunicorn and a real ``celery worker`` as separate
processes with the production settings, the real PostgreSQL and Redis, and moto's server
over a socket standing in for AWS."""

from typing import Any

import pytest
import redis
import requests
from django.db import connection

from apps.clients import api as clients
from apps.cloud.emulator import free_port
from tasks.subscriptions import all_queues
from tests.conftest import EmulatedAws
from tests.support.factories import request_body
from tests.support.polling import wait_for
from tests.support.processes import BIN, child_environment, output_of, running, wait_until_serving
from tests.support.services import need_postgres, need_redis

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.services]


def _database_url() -> str:
    """The test database pytest-django created, for the child processes."""
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def test_request_to_created_account_across_processes(demo_payer: Any, aws: EmulatedAws) -> None:
    need_postgres()
    redis_url = need_redis()
    redis.Redis.from_url(redis_url).flushdb()
    port = free_port()
    env = child_environment(
        DJANGO_SETTINGS_MODULE="project.settings.production",
        DJANGO_SECRET_KEY="services-mode-test-key-" + "x" * 40,
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DJANGO_SECURE_SSL_REDIRECT="false",
        DATABASE_URL=_database_url(),
        REDIS_URL=redis_url,
        AWS_ENDPOINT_URL=aws.url,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        TASK_RETRY_BASE_SECONDS="0.2",
        LOG_LEVEL="INFO",
    )
    token = clients.client_create(name="services-e2e", scopes=list(clients.ALL_SCOPES)).token
    worker_command = [
        str(BIN / "celery"),
        "-A",
        "project.celery:app",
        "worker",
        "-Q",
        ",".join(all_queues()),
        "--concurrency",
        "2",
        "--without-gossip",
        "--without-mingle",
        "--loglevel",
        "INFO",
    ]
    web_command = [str(BIN / "gunicorn"), "project.wsgi", "-b", f"127.0.0.1:{port}", "-w", "2", "--timeout", "30"]

    with (
        running(worker_command, env=env, name="worker") as worker,
        running(web_command, env=env, name="web") as web,
    ):
        base = f"http://127.0.0.1:{port}"
        wait_until_serving(f"{base}/healthz", web)
        assert requests.get(f"{base}/readyz", timeout=5).json()["checks"] == {"database": "ok", "broker": "ok"}
        headers = {"Authorization": f"Bearer {token}"}

        accepted = requests.post(f"{base}/v1/account-requests", json=request_body(), headers=headers, timeout=10)
        assert accepted.status_code == 202, accepted.text
        status_url = accepted.headers["Location"]

        try:
            status = wait_for(
                lambda: requests.get(status_url, headers=headers, timeout=5).json(),
                until=lambda body: body["status"] in ("succeeded", "failed"),
                timeout=60,
                interval=0.25,
            )
        except AssertionError as error:
            raise AssertionError(f"{error}\n--- worker ---\n{output_of(worker)}") from None

    assert status["status"] == "succeeded", status
    account_id = status["account"]["id"]
    emails = {a["Id"]: a["Email"] for a in aws.client("organizations").list_accounts()["Accounts"]}
    assert emails[account_id] == status["account"]["email"] == "aws.demo.msfp.dev@example.com"
    assert aws.member_client("sts", account_id=account_id).get_caller_identity()["Account"] == account_id
    # The request id of the HTTP call travelled with the messages into the worker's logs.
    assert accepted.headers["X-Request-ID"] in output_of(worker, tail=None)

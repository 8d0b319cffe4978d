"""End to end in services mode: gunicorn and a real ``celery worker`` as separate
processes with the production settings, the real PostgreSQL and Redis, and moto's server
over a socket standing in for AWS."""

from typing import Any

import pytest
import requests

from apps.clients import api as clients
from tests.conftest import EmulatedAws
from tests.support.factories import request_body
from tests.support.polling import wait_for
from tests.support.processes import output_of
from tests.support.services import need_postgres, need_redis
from tests.support.stack import celery_worker, flush, gunicorn, services_environment

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.services]


def test_request_to_created_account_across_processes(demo_payer: Any, aws: EmulatedAws) -> None:
    need_postgres()
    redis_url = need_redis()
    flush(redis_url)
    env = services_environment(aws_url=aws.url, redis_url=redis_url)
    token = clients.client_create(name="services-e2e", scopes=list(clients.ALL_SCOPES), all_payers=True).token

    with celery_worker(env) as worker, gunicorn(env) as web:
        assert requests.get(f"{web.base}/readyz", timeout=5).json()["checks"] == {"database": "ok", "broker": "ok"}
        headers = {"Authorization": f"Bearer {token}"}

        accepted = requests.post(f"{web.base}/v1/account-requests", json=request_body(), headers=headers, timeout=10)
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

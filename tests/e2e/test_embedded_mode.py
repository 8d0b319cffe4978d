"""End to end in the embedded mode's footing, in this process: the API answers, the
outbox relays after commit onto the in-process broker, Celery worker threads run the
handlers and steps, and moto's server (over a socket) is AWS."""

from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.kernel.models import OutboxMessage
from tasks.embedded import worker_threads
from tests.conftest import EmulatedAws
from tests.support.factories import request_body
from tests.support.polling import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_post_returns_before_the_work_and_the_run_succeeds(api: APIClient, demo_payer: Any, aws: EmulatedAws) -> None:
    with worker_threads(concurrency=2):
        accepted = api.post("/v1/account-requests", request_body(), format="json")
        assert accepted.status_code == 202
        assert accepted.json()["status"] == "accepted"

        status = wait_for(
            lambda: api.get(accepted["Location"]).json(),
            until=lambda body: body["status"] in ("succeeded", "failed"),
            timeout=30,
        )

    assert status["status"] == "succeeded", status
    assert {step["name"]: step["state"] for step in status["steps"]} == {
        "create_account": "succeeded",
        "wait_account": "succeeded",
    }
    account_id = status["account"]["id"]
    emails = {a["Id"]: a["Email"] for a in aws.client("organizations").list_accounts()["Accounts"]}
    assert emails[account_id] == "aws.demo.msfp.dev@example.com"
    assert aws.member_client("sts", account_id=account_id).get_caller_identity()["Account"] == account_id
    # Everything recorded was relayed by the after-commit path.
    assert not OutboxMessage.objects.filter(published_at__isnull=True).exists()

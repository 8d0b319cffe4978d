"""End to end on the serverless footing: a request POSTed to the packaged function, its
messages on moto's SQS, fed back to the packaged function batch by batch by a driver
standing in for the event source mappings, until the run has succeeded."""

import json
import time
from typing import Any

import pytest

from tasks.subscriptions import all_queues
from tests.conftest import EmulatedAws
from tests.deploy import harness
from tests.deploy.conftest import Footing
from tests.support.factories import request_body

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.services]


def test_request_to_created_account_through_lambda_and_sqs(
    footing: Footing, dev_function: harness.LambdaProcess, demo_payer: Any, bearer: Any, aws: EmulatedAws
) -> None:
    headers = bearer()
    accepted = dev_function.invoke(
        harness.rest_event("POST", "/v1/account-requests", body=request_body(), headers=headers)
    )
    assert accepted["statusCode"] == 202, accepted
    request_id = json.loads(accepted["body"])["id"]
    mapping = harness.EventSourceMapping(footing.queues, {queue: dev_function.invoke for queue in all_queues()})

    deadline = time.monotonic() + 90
    delivered = 0
    while True:
        batches = mapping.poll(visibility_timeout=2)
        delivered += sum(len(b.records) for b in batches)
        answer = dev_function.invoke(harness.rest_event("GET", f"/v1/account-requests/{request_id}", headers=headers))
        status = json.loads(answer["body"])
        if status["status"] in ("succeeded", "failed"):
            break
        assert time.monotonic() < deadline, f"{status}\n--- function ---\n{dev_function.output()}"
        if not batches:
            time.sleep(0.3)  # a retry is waiting out its SQS delay

    assert status["status"] == "succeeded", status
    assert delivered >= 4  # AccountRequested, two RunStep commands and their outcomes at least
    account_id = status["account"]["id"]
    emails = {a["Id"]: a["Email"] for a in aws.client("organizations").list_accounts()["Accounts"]}
    assert emails[account_id] == status["account"]["email"]

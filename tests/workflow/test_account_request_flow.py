"""One account request through the whole flow — API, intake, workflow, accounts — with
messages delivered synchronously by ``drain()``."""

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.stub import Stubber
from rest_framework.test import APIClient

from apps.accounts.models import ManagedAccount
from apps.accounts.steps import aws as accounts_aws
from apps.cloud import api as cloud
from apps.kernel.models import OutboxMessage
from apps.workflow.models import Run
from tests.conftest import EmulatedAws
from tests.support.bus import drain
from tests.support.factories import request_body

pytestmark = pytest.mark.django_db

EMAIL = "aws.demo.msfp.dev@example.com"


def submit(api: APIClient) -> str:
    response = api.post("/v1/account-requests", request_body(), format="json")
    assert response.status_code == 202, response.json()
    return str(response.json()["id"])


def status_of(api: APIClient, request_id: str) -> dict[str, Any]:
    response = api.get(f"/v1/account-requests/{request_id}")
    assert response.status_code == 200
    return dict(response.json())


def steps_of(status: dict[str, Any]) -> list[tuple[str, str]]:
    return [(step["name"], step["state"]) for step in status["steps"]]


def test_a_request_flows_to_an_active_account(api: APIClient, demo_payer: Any, aws: EmulatedAws) -> None:
    accounts_before = len(aws.client("organizations").list_accounts()["Accounts"])
    request_id = submit(api)

    delivered = drain()

    status = status_of(api, request_id)
    assert status["status"] == "succeeded"
    assert status["failure"] is None
    assert status["run"]["status"] == "succeeded"
    assert steps_of(status) == [("create_account", "succeeded"), ("wait_account", "succeeded")]
    account_id = status["account"]["id"]
    listed = aws.client("organizations").list_accounts()["Accounts"]
    assert len(listed) == accounts_before + 1
    assert (account_id, EMAIL) in {(a["Id"], a["Email"]) for a in listed}
    assert ManagedAccount.objects.get(request_id=request_id).status == ManagedAccount.Status.ACTIVE
    assert delivered.count("AccountRequested") == 1
    assert delivered.count("RunSucceeded") == 1
    assert "RunFailed" not in delivered


def test_redelivering_every_message_of_a_finished_flow_changes_nothing(
    api: APIClient, demo_payer: Any, aws: EmulatedAws
) -> None:
    request_id = submit(api)
    drain()
    before = status_of(api, request_id)
    accounts_before = len(aws.client("organizations").list_accounts()["Accounts"])
    recorded = OutboxMessage.objects.count()

    OutboxMessage.objects.update(published_at=None)  # the broker delivers everything again
    drain()

    after = status_of(api, request_id)
    assert after["status"] == "succeeded"
    assert after["steps"] == before["steps"]
    assert after["updated_at"] == before["updated_at"]
    assert len(aws.client("organizations").list_accounts()["Accounts"]) == accounts_before
    assert OutboxMessage.objects.count() == recorded  # no new outcomes, no second run
    assert Run.objects.count() == 1


@pytest.fixture
def organizations_refuse(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    """Organizations finds no earlier attempt, then refuses to create the account."""
    client = cloud.client("organizations")
    monkeypatch.setattr(accounts_aws, "organizations", lambda payer: client)
    with Stubber(client) as stubber:
        stubber.add_response("list_accounts", {"Accounts": []})
        stubber.add_response("list_create_account_status", {"CreateAccountStatuses": []})
        stubber.add_response(
            "create_account",
            {"CreateAccountStatus": {"Id": "car-1", "State": "FAILED", "FailureReason": "EMAIL_ALREADY_EXISTS"}},
        )
        yield stubber
        stubber.assert_no_pending_responses()


def test_a_request_whose_account_cannot_be_created_fails_with_the_reason(
    api: APIClient, demo_payer: Any, organizations_refuse: Stubber
) -> None:
    request_id = submit(api)

    delivered = drain()

    status = status_of(api, request_id)
    assert status["status"] == "failed"
    assert "create_account" in status["failure"]
    assert "EMAIL_ALREADY_EXISTS" in status["failure"]
    assert status["run"]["status"] == "failed"
    assert steps_of(status) == [("create_account", "failed"), ("wait_account", "skipped")]
    assert status["steps"][1]["attempts"] == 0
    assert status["account"] is None
    run = Run.objects.get(request_id=request_id)
    assert run.failure == "create_account: Organizations could not create the account: EMAIL_ALREADY_EXISTS"
    account = ManagedAccount.objects.get(request_id=request_id)
    assert (account.status, account.failure_reason) == (ManagedAccount.Status.FAILED, "EMAIL_ALREADY_EXISTS")
    assert delivered.count("RunFailed") == 1
    assert "RunSucceeded" not in delivered
    assert [t for t in delivered if t == "RunStep"] == ["RunStep"]  # wait_account was never dispatched


def test_a_failed_request_frees_its_email_for_a_new_request(
    api: APIClient, demo_payer: Any, organizations_refuse: Stubber
) -> None:
    first = submit(api)
    drain()

    second = submit(api)

    assert second != first
    assert status_of(api, first)["status"] == "failed"
    assert status_of(api, second)["status"] == "accepted"

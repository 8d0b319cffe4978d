from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.accounts.models import ManagedAccount
from apps.intake.models import AccountRequest
from apps.kernel.models import OutboxMessage
from tests.conftest import EmulatedAws
from tests.support.bus import drain
from tests.support.factories import request_body

pytestmark = pytest.mark.django_db


def post(api: APIClient, body: dict[str, Any], **headers: Any) -> Any:
    return api.post("/v1/account-requests", body, format="json", **headers)


def test_accepted_request_answers_202_with_location_and_status_url(api: APIClient, demo_payer: Any) -> None:
    response = post(api, request_body())

    assert response.status_code == 202
    body = response.json()
    assert set(body) == {"id", "status", "status_url"}
    assert body["status"] == "accepted"
    assert response["Location"] == body["status_url"]
    assert body["status_url"].endswith(f"/v1/account-requests/{body['id']}")


def test_request_and_its_event_are_stored_together(api: APIClient, demo_payer: Any) -> None:
    response = post(api, request_body())

    request = AccountRequest.objects.get(id=response.json()["id"])
    assert request.account_email == "aws.demo.msfp.dev@example.com"
    [event] = OutboxMessage.objects.filter(type="AccountRequested")
    assert event.envelope["payload"]["request_id"] == request.id
    assert event.envelope["payload"]["account_email"] == request.account_email


def test_status_follows_the_run_to_a_created_account(api: APIClient, demo_payer: Any, aws: EmulatedAws) -> None:
    request_id = post(api, request_body()).json()["id"]
    assert api.get(f"/v1/account-requests/{request_id}").json()["status"] == "accepted"

    drain()

    status = api.get(f"/v1/account-requests/{request_id}").json()
    assert status["status"] == "succeeded"
    assert [(s["name"], s["legacy_name"], s["state"], s["attempts"]) for s in status["steps"]] == [
        ("create_account", "CLA_SUBMISSION", "succeeded", 1),
        ("wait_account", "CLA_CREATION", "succeeded", 1),
    ]
    account = status["account"]
    assert account["email"] == "aws.demo.msfp.dev@example.com"
    listed = aws.client("organizations").list_accounts()["Accounts"]
    assert {(a["Id"], a["Email"]) for a in listed} >= {(account["id"], account["email"])}
    assert ManagedAccount.objects.get(request_id=request_id).status == "active"
    # The account's role can be assumed: Bespoke baselines it through that role.
    assert aws.member_client("sts", account_id=account["id"]).get_caller_identity()["Account"] == account["id"]


def test_unknown_request_is_404(api: APIClient) -> None:
    response = api.get("/v1/account-requests/00000000-0000-4000-8000-000000000000")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_clients_see_only_their_own_requests(make_api_client: Any, demo_payer: Any) -> None:
    from apps.clients.contracts import REQUESTS_READ, REQUESTS_WRITE

    owner = make_api_client(REQUESTS_READ, REQUESTS_WRITE)
    other = make_api_client(REQUESTS_READ)
    request_id = post(owner, request_body()).json()["id"]

    assert owner.get(f"/v1/account-requests/{request_id}").status_code == 200
    assert other.get(f"/v1/account-requests/{request_id}").status_code == 404
    assert other.get("/v1/account-requests").json()["count"] == 0

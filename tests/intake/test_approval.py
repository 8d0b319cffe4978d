"""Regulated requests to a payer that requires approval wait for an operator: nothing is
created until one approves (API or admin); a rejection ends the request and frees its email."""

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.test import APIClient

from apps.clients.contracts import OPERATIONS_ADMIN, REQUESTS_READ, REQUESTS_WRITE
from apps.intake.models import AccountRequest
from apps.kernel.models import OutboxMessage
from tests.support import factories
from tests.support.factories import request_body

pytestmark = pytest.mark.django_db


def _payer(*, approval: bool) -> None:
    factories.payer(
        "demo",
        management_account_id="111111111111",
        allowed_environments=["dev", "tst"],
        allowed_regions=["us-east-1"],
        approval_required_for_regulated=approval,
    )


@pytest.fixture
def client(make_api_client: Callable[..., APIClient]) -> APIClient:
    return make_api_client(REQUESTS_READ, REQUESTS_WRITE)


@pytest.fixture
def operator(make_api_client: Callable[..., APIClient]) -> APIClient:
    return make_api_client(OPERATIONS_ADMIN, REQUESTS_READ, REQUESTS_WRITE)


def requested_events() -> int:
    return OutboxMessage.objects.filter(type="AccountRequested").count()


def submit(client: APIClient, *, regulated: bool = True) -> str:
    answer = client.post("/v1/account-requests", request_body(regulated=regulated), format="json")
    assert answer.status_code == 202, answer.json()
    return str(answer.json()["id"])


def test_a_regulated_request_waits_for_approval_and_records_nothing_to_run(client: APIClient) -> None:
    _payer(approval=True)
    request_id = submit(client)

    shown = client.get(f"/v1/account-requests/{request_id}").json()
    assert shown["status"] == "awaiting_approval"
    assert shown["run"] is None
    assert requested_events() == 0


def test_unregulated_requests_and_payers_without_the_gate_go_ahead_at_once(client: APIClient) -> None:
    _payer(approval=True)
    submit(client, regulated=False)
    _payer(approval=False)
    answer = client.post(
        "/v1/account-requests",
        request_body(regulated=True, tags={**request_body()["tags"], "project_short_name": "other"}),
        format="json",
    )
    assert answer.status_code == 202, answer.json()
    assert answer.json()["status"] == "accepted"
    assert requested_events() == 2


def test_approval_starts_the_request_once(client: APIClient, operator: APIClient) -> None:
    _payer(approval=True)
    request_id = submit(client)

    approved = operator.post(f"/v1/account-requests/{request_id}/approve", {}, format="json")
    again = operator.post(f"/v1/account-requests/{request_id}/approve", {}, format="json")

    assert approved.status_code == 202, approved.json()
    assert approved.json()["status"] == "accepted"
    assert again.status_code == 409
    assert again.json()["code"] == "request_state_conflict"
    assert requested_events() == 1
    stored = AccountRequest.objects.get(id=request_id)
    assert stored.approved_by.startswith("client:")
    assert stored.approved_at is not None


def test_the_requesting_client_cannot_approve_its_own_request(client: APIClient) -> None:
    _payer(approval=True)
    request_id = submit(client)

    assert client.post(f"/v1/account-requests/{request_id}/approve", {}, format="json").status_code == 403
    assert requested_events() == 0


def test_four_eyes_even_when_the_requesting_client_is_an_operator(operator: APIClient) -> None:
    """An operator's client that submitted a regulated request cannot approve it itself."""
    _payer(approval=True)
    request_id = submit(operator_with_write := operator)

    refused = operator_with_write.post(f"/v1/account-requests/{request_id}/approve", {}, format="json")

    assert refused.status_code == 403
    assert refused.json()["code"] == "four_eyes"
    assert requested_events() == 0
    assert AccountRequest.objects.get(id=request_id).status == "awaiting_approval"


def test_the_approver_is_shown_in_the_status_document(client: APIClient, operator: APIClient) -> None:
    _payer(approval=True)
    request_id = submit(client)
    operator.post(f"/v1/account-requests/{request_id}/approve", {}, format="json")

    shown = client.get(f"/v1/account-requests/{request_id}").json()

    assert shown["approved_by"].startswith("client:client-")
    assert shown["approved_at"] is not None


def test_an_operator_of_another_payer_cannot_approve(
    client: APIClient, make_api_client: Callable[..., APIClient]
) -> None:
    _payer(approval=True)
    request_id = submit(client)
    stranger = make_api_client(OPERATIONS_ADMIN, REQUESTS_READ, payers=("other",))

    assert stranger.post(f"/v1/account-requests/{request_id}/approve", {}, format="json").status_code == 404
    assert requested_events() == 0


def test_a_rejection_needs_a_reason_ends_the_request_and_frees_the_email(
    client: APIClient, operator: APIClient
) -> None:
    _payer(approval=True)
    request_id = submit(client)

    assert operator.post(f"/v1/account-requests/{request_id}/reject", {}, format="json").status_code == 400
    rejected = operator.post(f"/v1/account-requests/{request_id}/reject", {"reason": "no budget"}, format="json")

    assert rejected.status_code == 200, rejected.json()
    assert rejected.json()["status"] == "cancelled"
    assert "no budget" in rejected.json()["failure"]
    assert operator.post(f"/v1/account-requests/{request_id}/approve", {}, format="json").status_code == 409
    assert requested_events() == 0
    submit(client)  # the same account email may be requested again


def test_an_unknown_request_is_404(operator: APIClient) -> None:
    assert operator.post("/v1/account-requests/nope/approve", {}, format="json").status_code == 404


def test_an_operator_approves_in_the_admin(client: APIClient) -> None:
    _payer(approval=True)
    request_id = submit(client)
    User.objects.create_superuser("ops", "ops@example.com", "pw")
    browser = Client()
    browser.force_login(User.objects.get(username="ops"))

    page = browser.post(
        "/admin/intake/accountrequest/",
        {"action": "approve", "_selected_action": [request_id]},
        follow=True,
    )

    assert page.status_code == 200
    assert "approved; provisioning starts" in page.content.decode()
    assert AccountRequest.objects.get(id=request_id).approved_by == "user:ops"
    assert requested_events() == 1


def test_a_dry_run_says_whether_the_request_would_wait_for_approval(client: APIClient) -> None:
    _payer(approval=True)

    gated = client.post("/v1/account-requests?dry_run=true", request_body(regulated=True), format="json")
    free = client.post("/v1/account-requests?dry_run=true", request_body(regulated=False), format="json")

    assert gated.json()["approval_required"] is True
    assert free.json()["approval_required"] is False

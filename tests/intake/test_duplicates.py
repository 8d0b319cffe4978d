"""A request whose account email (payer division, short project name, environment) is
already held by a live request is a duplicate: 409 naming the existing request. The
database decides, so concurrent duplicates cannot both get in (the original's race)."""

from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.accounts import api as accounts
from apps.clients import api as clients
from apps.intake.models import AccountRequest
from apps.intake.services import request_mark_failed, request_mark_provisioning, request_mark_succeeded
from apps.kernel.models import OutboxMessage
from tests.support.concurrency import all_at_once
from tests.support.factories import request_body
from tests.support.services import need_postgres

URL = "/v1/account-requests"


def post(api: APIClient, body: dict[str, Any]) -> Any:
    return api.post(URL, body, format="json")


def accepted_id(response: Any) -> str:
    assert response.status_code == 202, response.content
    request_id: str = response.json()["id"]
    return request_id


def assert_duplicate_of(response: Any, existing_id: str) -> None:
    assert response.status_code == 409, response.content
    body = response.json()
    assert set(body) == {"code", "message", "extra"}
    assert body["code"] == "duplicate_request"
    assert isinstance(body["message"], str)
    assert body["message"]
    assert body["extra"]["existing_request_id"] == existing_id


def requested_events() -> int:
    return OutboxMessage.objects.filter(type="AccountRequested").count()


@pytest.mark.django_db
def test_the_same_request_twice_is_409_naming_the_first(api: APIClient, payer: accounts.PayerSummary) -> None:
    first_id = accepted_id(post(api, request_body()))

    second = post(api, request_body())

    assert_duplicate_of(second, first_id)
    assert second.json()["extra"]["account_email"] == "aws.demo.msfp.dev@example.com"
    assert list(AccountRequest.objects.values_list("id", flat=True)) == [first_id]
    assert requested_events() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "changes",
    [
        {"region": "us-west-2"},
        {"regulated": True},
        {"vpc__az_count": 3, "vpc__prefix_length": 23},
        {"tags__project_name": "Another Name", "tags__cost_center": "2000200099"},
        {"requestor__username": "smithj", "requestor__email": "smith@example.com"},
        {"external_transaction_id": "RITM00002", "comment": "again"},
    ],
    ids=repr,
)
def test_a_request_for_the_same_account_email_is_a_duplicate_whatever_else_differs(
    api: APIClient, payer: accounts.PayerSummary, changes: dict[str, Any]
) -> None:
    first_id = accepted_id(post(api, request_body()))

    assert_duplicate_of(post(api, request_body(**changes)), first_id)
    assert AccountRequest.objects.count() == 1


@pytest.mark.django_db
def test_another_client_asking_for_the_same_account_is_a_duplicate_too(
    make_api_client: Any, payer: accounts.PayerSummary
) -> None:
    first_id = accepted_id(post(make_api_client(), request_body()))

    assert_duplicate_of(post(make_api_client(), request_body()), first_id)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "changes",
    [{"tags__project_short_name": "other"}, {"environment": "prd"}, {"tags__project_short_name": "msfp2"}],
    ids=repr,
)
def test_a_different_short_name_or_environment_is_not_a_duplicate(
    api: APIClient, payer: accounts.PayerSummary, changes: dict[str, Any]
) -> None:
    first_id = accepted_id(post(api, request_body()))

    second_id = accepted_id(post(api, request_body(**changes)))

    assert second_id != first_id
    assert AccountRequest.objects.count() == 2
    assert requested_events() == 2


@pytest.mark.django_db
@pytest.mark.parametrize("advance_to_provisioning", [False, True], ids=["from-accepted", "from-provisioning"])
def test_a_failed_request_frees_its_account_email(
    api: APIClient, payer: accounts.PayerSummary, advance_to_provisioning: bool
) -> None:
    """The original stranded a request that failed: resubmitting got 409 for ever."""
    first_id = accepted_id(post(api, request_body()))
    if advance_to_provisioning:
        assert request_mark_provisioning(request_id=first_id)
    assert request_mark_failed(request_id=first_id, failure="CreateAccount failed")

    second_id = accepted_id(post(api, request_body()))

    assert second_id != first_id
    assert dict(AccountRequest.objects.values_list("id", "status")) == {first_id: "failed", second_id: "accepted"}
    assert requested_events() == 2
    # …and the new request holds the email again.
    assert_duplicate_of(post(api, request_body()), second_id)


@pytest.mark.django_db
def test_a_succeeded_request_still_holds_its_account_email(api: APIClient, payer: accounts.PayerSummary) -> None:
    first_id = accepted_id(post(api, request_body()))
    assert request_mark_succeeded(request_id=first_id)

    response = post(api, request_body())

    assert_duplicate_of(response, first_id)
    assert response.json()["extra"]["status"] == "succeeded"


CONCURRENT_REQUESTS = 20


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_concurrent_identical_requests_let_exactly_one_in(payer: accounts.PayerSummary) -> None:
    """The original checked, then wrote: identical requests raced through together."""
    need_postgres()
    token = clients.client_create(name="portal", scopes=list(clients.ALL_SCOPES), all_payers=True).token

    def submit() -> Any:
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        return post(api, request_body())

    responses = all_at_once(submit, threads=CONCURRENT_REQUESTS)
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [202] + [409] * (CONCURRENT_REQUESTS - 1), [r.content for r in responses]
    [winner] = [response for response in responses if response.status_code == 202]
    winner_id = winner.json()["id"]
    for response in responses:
        if response.status_code == 409:
            assert_duplicate_of(response, winner_id)
    assert list(AccountRequest.objects.values_list("id", flat=True)) == [winner_id]
    assert requested_events() == 1

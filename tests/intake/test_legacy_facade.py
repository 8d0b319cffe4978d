"""Tailor's API on top of v1: an old client's ``POST /accounts`` (``{"accountRequest": {...}}``)
is accepted with code 2020 and becomes a v1 request; each of Tailor's error codes answers
the matching bad input; ``GET /requeststatus/<id>`` reports the run by Tailor's task names.
A refused request writes nothing."""

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast
from unittest import mock

import pytest
from rest_framework.test import APIClient

from apps.accounts import api as accounts
from apps.clients.contracts import REQUESTS_READ, REQUESTS_WRITE
from apps.intake.legacy.translate import legacy_tasks
from apps.intake.models import AccountRequest
from apps.intake.services import request_mark_failed
from apps.kernel.models import OutboxMessage
from apps.workflow.contracts import StepSummary
from tests.conftest import EmulatedAws
from tests.support.bus import drain
from tests.support.factories import request_body

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.intake.legacy_urlconf")]

EXAMPLE = json.loads(
    (Path(__file__).resolve().parents[2] / "docs" / "examples" / "legacy-account-request.json").read_text()
)
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


def legacy_body(**fields: Any) -> dict[str, Any]:
    """The example request with ``fields`` replaced (a value of ``...`` removes the field)."""
    inner = {**EXAMPLE["accountRequest"], **fields}
    return {"accountRequest": {name: value for name, value in inner.items() if value is not ...}}


def post(api: APIClient, body: Any, path: str = "/accounts") -> Any:
    return api.post(path, body, format="json")


def accepted_id(response: Any) -> str:
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["code"] == 2020
    request_id: str = body["requestId"]
    return request_id


def assert_nothing_written() -> None:
    assert AccountRequest.objects.count() == 0
    assert OutboxMessage.objects.count() == 0


# --- 2020 -------------------------------------------------------------------------------


def test_the_originals_example_request_is_accepted_with_2020_and_visible_in_v1(
    api: APIClient, payer: accounts.PayerSummary
) -> None:
    response = post(api, EXAMPLE)

    assert response.status_code == 202
    body = response.json()
    assert body == {"code": 2020, "message": "Request Accepted", "requestId": body["requestId"]}
    assert uuid.UUID(body["requestId"]).version == 4
    assert response["Location"] == f"http://testserver/v1/account-requests/{body['requestId']}"
    v1 = api.get(response["Location"])
    assert v1.status_code == 200
    assert v1.json()["status"] == "accepted"
    assert v1.json()["account_email"] == "aws.demo.msfp.dev@example.com"
    # The same request a v1 client would have sent, field for field.
    assert v1.json()["request"] == request_body()
    [event] = OutboxMessage.objects.filter(type="AccountRequested")
    assert event.envelope["payload"]["request_id"] == body["requestId"]


@pytest.mark.parametrize("path", ["/account", "/accounts/", "/account/"])
def test_the_documented_paths_accept_the_request_too(api: APIClient, payer: accounts.PayerSummary, path: str) -> None:
    accepted_id(post(api, EXAMPLE, path))


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"accountRegulated": "true"}, {"regulated": True}),
        ({"accountRegulated": "false"}, {"regulated": False}),
        ({"accountRegulated": "True"}, {"regulated": True}),
        ({"accountRegulated": True}, {"regulated": True}),
        ({"accountVpcAzCount": "3"}, {"vpc": {"az_count": 3, "prefix_length": 24}}),
        ({"accountVpcAzCount": 3}, {"vpc": {"az_count": 3, "prefix_length": 24}}),
        ({"accountVpcPrefix": "/23"}, {"vpc": {"az_count": 2, "prefix_length": 23}}),
        ({"accountVpcPrefix": "24"}, {"vpc": {"az_count": 2, "prefix_length": 24}}),
        ({"accountUserAccessList": "whitew, doej"}, {"user_access_list": ["whitew", "doej"]}),
        ({"accountUserAccessList": "whitew"}, {"user_access_list": ["whitew"]}),
        ({"externalTransactionId": ..., "comment": ...}, {"external_transaction_id": "", "comment": ""}),
        ({"externalTransactionId": None, "comment": None}, {"external_transaction_id": "", "comment": ""}),
        ({"comment": 'a "quoted" comment'}, {"comment": 'a "quoted" comment'}),
    ],
)
def test_the_spellings_old_clients_sent_are_accepted(
    api: APIClient, payer: accounts.PayerSummary, fields: dict[str, Any], expected: dict[str, Any]
) -> None:
    request_id = accepted_id(post(api, legacy_body(**fields)))

    stored = AccountRequest.objects.get(id=request_id).body
    assert {key: stored[key] for key in expected} == expected


def test_any_content_type_and_accept_header_is_answered_in_json(api: APIClient, payer: accounts.PayerSummary) -> None:
    response = api.generic(
        "POST",
        "/accounts",
        json.dumps(EXAMPLE),
        content_type="application/x-www-form-urlencoded",
        HTTP_ACCEPT="text/html",
    )

    accepted_id(response)
    assert response["Content-Type"] == "application/json"


# --- 4000 -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        # a field missing
        ({"accountTagCostCenter": ...}, "accountTagCostCenter"),
        ({"accountCbAlias": ...}, "accountCbAlias"),
        ({"accountRegulated": ...}, "accountRegulated"),
        ({"requestorEmailAddress": ...}, "requestorEmailAddress"),
        ({"accountVpcPrefix": ...}, "accountVpcPrefix"),
        ({"accountUserAccessList": ...}, "accountUserAccessList"),
        # a pattern or length broken
        ({"accountTagShortProjectName": "MSFP!"}, "accountTagShortProjectName"),
        ({"accountTagCostCenter": "123"}, "accountTagCostCenter"),
        ({"accountTagLongProjectName": "ab"}, "accountTagLongProjectName"),
        ({"accountTechnicalContactUsername": "Walter White"}, "accountTechnicalContactUsername"),
        ({"requestorUsername": "dj"}, "requestorUsername"),
        ({"requestorFullName": "x" * 51}, "requestorFullName"),
        ({"requestorEmailAddress": "not-an-email"}, "requestorEmailAddress"),
        ({"accountCbAlias": "x" * 11}, "accountCbAlias"),
        ({"externalTransactionId": "x" * 51}, "externalTransactionId"),
        ({"comment": "x" * 101}, "comment"),
        ({"accountUserAccessList": ""}, "accountUserAccessList"),
        ({"accountUserAccessList": "whitew,whitew"}, "accountUserAccessList"),
        # a value outside the allowed set
        ({"accountVpcAzCount": "4"}, "accountVpcAzCount"),
        ({"accountVpcPrefix": "/22"}, "accountVpcPrefix"),
        ({"accountVpcPrefix": "big"}, "accountVpcPrefix"),
        ({"accountRegulated": "yes"}, "accountRegulated"),
        # the payer decides
        ({"accountCbAlias": "nobody"}, "accountCbAlias"),
        ({"accountTagEnvironment": "qa"}, "accountTagEnvironment"),
        ({"accountRegion": "eu-west-1"}, "accountRegion"),
        # not a field Tailor had
        ({"accountColour": "blue"}, "accountColour"),
    ],
)
def test_each_bad_field_answers_4000_naming_it(
    api: APIClient, payer: accounts.PayerSummary, fields: dict[str, Any], field: str
) -> None:
    response = post(api, legacy_body(**fields))

    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == 4000
    assert body["message"] == "Bad request"
    assert list(body["errors"]) == [field]
    assert all(isinstance(message, str) and message for message in body["errors"][field])
    assert_nothing_written()


def test_a_missing_field_says_it_is_required(api: APIClient, payer: accounts.PayerSummary) -> None:
    response = post(api, legacy_body(accountTagCostCenter=...))

    assert response.json()["errors"] == {"accountTagCostCenter": ["This field is required."]}


def test_a_bad_entry_of_the_access_list_is_named_by_position(api: APIClient, payer: accounts.PayerSummary) -> None:
    response = post(api, legacy_body(accountUserAccessList=["whitew", "Bad Name"]))

    [message] = response.json()["errors"]["accountUserAccessList"]
    assert message.startswith("item 2: ")


def test_several_bad_fields_are_all_named(api: APIClient, payer: accounts.PayerSummary) -> None:
    response = post(api, legacy_body(accountTagCostCenter="1", requestorUsername=..., accountVpcAzCount="9"))

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"accountTagCostCenter", "requestorUsername", "accountVpcAzCount"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "accountRequest"),
        ([], "accountRequest"),
        ({"accountRequest": "yes"}, "accountRequest"),
        ({**EXAMPLE, "extra": 1}, "extra"),
    ],
)
def test_a_body_without_the_account_request_object_answers_4000(
    api: APIClient, payer: accounts.PayerSummary, body: Any, field: str
) -> None:
    response = post(api, body)

    assert response.status_code == 400
    assert response.json()["code"] == 4000
    assert list(response.json()["errors"]) == [field]
    assert_nothing_written()


def test_malformed_json_answers_4000(api: APIClient, payer: accounts.PayerSummary) -> None:
    response = api.generic("POST", "/accounts", '{"accountRequest": {', content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == 4000
    assert list(response.json()["errors"]) == ["accountRequest"]
    assert_nothing_written()


# --- 4090 -------------------------------------------------------------------------------


def test_a_duplicate_answers_4090_naming_the_first_request(api: APIClient, payer: accounts.PayerSummary) -> None:
    first = accepted_id(post(api, EXAMPLE))

    # Another project long name, same account email (payer, short name, environment).
    response = post(api, legacy_body(accountTagLongProjectName="Another name", comment="again"))

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == 4090
    assert body["message"] == "Duplicate request"
    assert body["requestId"] == first
    assert AccountRequest.objects.count() == 1
    assert OutboxMessage.objects.filter(type="AccountRequested").count() == 1


def test_a_failed_request_no_longer_blocks_its_email(api: APIClient, payer: accounts.PayerSummary) -> None:
    first = accepted_id(post(api, EXAMPLE))
    request_mark_failed(request_id=first, failure="create_account: boom")

    assert accepted_id(post(api, EXAMPLE)) != first


# --- 401 / 4030 / 4040 / 5000 -----------------------------------------------------------


def test_without_a_token_answers_401_in_tailors_shape(payer: accounts.PayerSummary) -> None:
    response = post(APIClient(), EXAMPLE)

    assert response.status_code == 401
    assert response.json()["code"] == 4010
    assert response.json()["message"] == "Unauthorized"
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert_nothing_written()


def test_an_unknown_token_answers_401(payer: accounts.PayerSummary) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")

    for response in (post(client, EXAMPLE), client.get(f"/requeststatus/{UNKNOWN_ID}")):
        assert response.status_code == 401
        assert response.json()["code"] == 4010
    assert_nothing_written()


def test_a_token_without_requests_write_answers_4030(make_api_client: Any, payer: accounts.PayerSummary) -> None:
    response = post(make_api_client(REQUESTS_READ), EXAMPLE)

    assert response.status_code == 403
    assert response.json()["code"] == 4030
    assert response.json()["message"] == "Forbidden"
    assert "requests:write" in response.json()["detail"]
    assert_nothing_written()


def test_a_token_without_requests_read_answers_4030_on_the_status(
    make_api_client: Any, payer: accounts.PayerSummary
) -> None:
    writer = make_api_client(REQUESTS_WRITE)
    request_id = accepted_id(post(writer, EXAMPLE))

    response = writer.get(f"/requeststatus/{request_id}")

    assert response.status_code == 403
    assert response.json()["code"] == 4030


def test_an_unknown_request_answers_4040(api: APIClient) -> None:
    response = api.get(f"/requeststatus/{UNKNOWN_ID}")

    assert response.status_code == 404
    assert response.json()["code"] == 4040
    assert response.json()["message"] == "Not found"


def test_another_clients_request_answers_4040(make_api_client: Any, payer: accounts.PayerSummary) -> None:
    owner = make_api_client(REQUESTS_READ, REQUESTS_WRITE)
    request_id = accepted_id(post(owner, EXAMPLE))

    assert owner.get(f"/requeststatus/{request_id}").status_code == 200
    response = make_api_client(REQUESTS_READ).get(f"/requeststatus/{request_id}")
    assert response.status_code == 404
    assert response.json()["code"] == 4040


def test_an_unexpected_error_answers_5000_without_its_details(api: APIClient, payer: accounts.PayerSummary) -> None:
    with mock.patch(
        "apps.intake.legacy.views.request_submit", side_effect=RuntimeError("secret connection string")
    ) as submit:
        response = post(api, EXAMPLE)

    assert submit.called
    assert response.status_code == 500
    assert response.json() == {"code": 5000, "message": "Internal error"}
    assert b"secret" not in response.content
    assert b"Traceback" not in response.content
    assert_nothing_written()


def test_a_wrong_method_answers_in_tailors_shape(api: APIClient) -> None:
    response = api.get("/accounts")

    assert response.status_code == 405
    assert response.json()["code"] == 4050


# --- the status lookup -------------------------------------------------------------------


def status_of(api: APIClient, request_id: str) -> dict[str, Any]:
    response = api.get(f"/requeststatus/{request_id}")
    assert response.status_code == 200, response.content
    return cast(dict[str, Any], response.json())


def test_the_status_follows_the_run_by_tailors_task_names(
    api: APIClient, demo_payer: accounts.PayerSummary, aws: EmulatedAws
) -> None:
    request_id = accepted_id(post(api, EXAMPLE))

    before = status_of(api, request_id)
    assert before["code"] == 2000
    assert before["requestId"] == request_id
    assert before["status"] == "in_progress"
    assert before["tasks"] == {"REQUEST_VALIDATION": "complete"}
    assert before["accountId"] is None

    drain()

    after = status_of(api, request_id)
    v1 = api.get(f"/v1/account-requests/{request_id}").json()
    assert v1["status"] == "succeeded"
    assert after["status"] == "complete"
    assert after["accountId"] == v1["account"]["id"]
    assert after["accountEmail"] == "aws.demo.msfp.dev@example.com"
    tasks = after["tasks"]
    assert list(tasks)[:3] == ["REQUEST_VALIDATION", "CLA_SUBMISSION", "CLA_CREATION"]
    assert list(tasks) == ["REQUEST_VALIDATION", *(step["legacy_name"] for step in v1["steps"]), "READY"]
    assert set(tasks.values()) == {"complete"}
    assert after["failure"] is None


def test_a_failed_request_reports_failed(api: APIClient, payer: accounts.PayerSummary) -> None:
    request_id = accepted_id(post(api, EXAMPLE))
    request_mark_failed(request_id=request_id, failure="create_account: ConstraintViolationException")

    status = status_of(api, request_id)

    assert status["status"] == "failed"
    assert status["failure"] == "create_account: ConstraintViolationException"
    assert "READY" not in status["tasks"]


def step(name: str, legacy_name: str, state: str) -> StepSummary:
    at = datetime(2024, 1, 1, tzinfo=UTC)
    return StepSummary(
        name=name,
        legacy_name=legacy_name,
        state=state,
        required=True,
        depends_on=(),
        attempts=1,
        started_at=at,
        finished_at=None,
        message="",
        outputs={},
    )


def test_step_states_map_to_tailors_task_states() -> None:
    steps = [
        step("create_account", "CLA_SUBMISSION", "succeeded"),
        step("wait_account", "CLA_CREATION", "succeeded"),
        step("iam", "IAM", "running"),
        step("cloudtrail", "CLOUDTRAIL", "failed"),
        step("config", "CONFIG", "pending"),
        step("vpc", "VPC", "skipped"),
        step("custom", "", "succeeded"),
    ]

    assert legacy_tasks(request_status="provisioning", steps=steps) == {
        "REQUEST_VALIDATION": "complete",
        "CLA_SUBMISSION": "complete",
        "CLA_CREATION": "complete",
        "IAM": "in_progress",
        "CLOUDTRAIL": "failed",
        "CUSTOM": "complete",
    }


def test_two_steps_with_one_legacy_name_report_the_least_finished() -> None:
    steps = [step("a", "IAM", "succeeded"), step("b", "IAM", "running"), step("c", "VPC", "failed")]
    steps += [step("d", "VPC", "succeeded")]

    assert legacy_tasks(request_status="provisioning", steps=steps) == {
        "REQUEST_VALIDATION": "complete",
        "IAM": "in_progress",
        "VPC": "failed",
    }


def test_a_failed_account_creation_carries_tailors_code_601(api: APIClient, payer: accounts.PayerSummary) -> None:
    request_id = accepted_id(post(api, EXAMPLE))
    request_mark_failed(request_id=request_id, failure="create_account: boom")
    run = mock.Mock(steps=(step("create_account", "CLA_SUBMISSION", "failed"),))

    with mock.patch("apps.intake.legacy.views.workflow.run_for_request", return_value=run):
        status = status_of(api, request_id)

    assert status["tasks"]["CLA_SUBMISSION"] == "failed"
    assert status["failureCode"] == 601

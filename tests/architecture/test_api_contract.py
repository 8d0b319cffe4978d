"""The schema and the API agree where the schema fuzz found them apart: blank query values,
values of the wrong JSON type, unknown fields, whitespace-only strings, a deleted webhook
subscription, and the links from an answer to the operations its ids lead to."""

import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.accounts import api as accounts

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema(django_db_blocker: Any) -> dict[str, Any]:
    with django_db_blocker.unblock():
        response = APIClient().get("/v1/schema?format=json")
    document: dict[str, Any] = json.loads(response.content)
    return document


def _component(schema: dict[str, Any], name: str) -> dict[str, Any]:
    component: dict[str, Any] = schema["components"]["schemas"][name]
    return component


@pytest.mark.parametrize(
    "path",
    [
        "/v1/account-requests?status=",
        "/v1/dead-letters?state=",
        "/v1/audit-events?target_id=",
        "/v1/audit-events?actor=",
        "/v1/compliance?account=",
        "/v1/accounts?payer=",
        "/v1/accounts?limit=",
    ],
)
def test_a_blank_query_value_is_refused_as_the_schema_says(api: APIClient, path: str) -> None:
    response = api.get(path)

    assert response.status_code == 400
    name = path.split("?")[1].rstrip("=")
    assert response.json()["extra"]["fields"][name] == ["This field may not be blank."]


def test_an_absent_query_value_is_still_no_filter(api: APIClient) -> None:
    assert api.get("/v1/account-requests").status_code == 200
    assert api.get("/v1/compliance?compliant=null").status_code == 200
    assert api.get("/v1/compliance?compliant=false").json() == {"count": 0, "results": []}


def test_whitespace_only_is_refused_where_the_schema_asks_for_a_visible_character(
    api: APIClient, schema: dict[str, Any]
) -> None:
    discard = _component(schema, "DiscardInputRequest")["properties"]["reason"]
    audit = next(
        parameter
        for parameter in schema["paths"]["/v1/audit-events"]["get"]["parameters"]
        if parameter["name"] == "target_id"
    )

    assert discard["pattern"] == audit["schema"]["pattern"] == r"\S"
    assert api.get("/v1/audit-events?target_id=%1E").status_code == 400
    assert api.post("/v1/dead-letters/x/discard", {"reason": "\x1e"}, format="json").status_code == 400


@pytest.mark.parametrize(
    ("path", "body", "field", "errors"),
    [
        ("/v1/dead-letters/redrive", {"ids": [0]}, "ids", {"0": ["Not a valid string."]}),
        ("/v1/dead-letters/redrive", {"ids": ["a", 1.5]}, "ids", {"1": ["Not a valid string."]}),
        ("/v1/webhooks", {"url": "http://127.0.0.1/hook", "description": 0}, "description", ["Not a valid string."]),
        ("/v1/webhooks", {"url": 7}, "url", ["Not a valid string."]),
        ("/v1/dead-letters/x/discard", {"reason": 0}, "reason", ["Not a valid string."]),
        ("/v1/tokens", {"scopes": [0]}, "scopes", {"0": ["Not a valid string."]}),
    ],
)
def test_a_number_is_not_taken_for_a_string(
    api: APIClient, path: str, body: dict[str, Any], field: str, errors: Any
) -> None:
    response = api.post(path, body, format="json")

    assert response.status_code == 400
    assert response.json()["extra"]["fields"][field] == errors


def test_a_token_mint_takes_no_body_or_an_object_never_null(api: APIClient) -> None:
    assert api.post("/v1/tokens").status_code == 201
    assert api.post("/v1/tokens", "null", content_type="application/json").status_code == 400
    assert api.post("/v1/tokens", "[]", content_type="application/json").status_code == 400


@pytest.mark.parametrize(
    "component",
    [
        "SubscriptionInputRequest",
        "AccountRequestInputRequest",
        "VpcRequest",
        "ReapplyRequest",
        "CloseRequest",
        "CommandRejectRequest",
        "TokenMintRequest",
    ],
)
def test_bodies_that_refuse_unknown_fields_say_so(schema: dict[str, Any], component: str) -> None:
    assert _component(schema, component)["additionalProperties"] is False


@pytest.mark.parametrize("component", ["CancelInputRequest", "RejectInputRequest", "BulkRedriveInputRequest"])
def test_bodies_that_ignore_unknown_fields_do_not_say_they_refuse_them(schema: dict[str, Any], component: str) -> None:
    assert "additionalProperties" not in _component(schema, component)


def test_unknown_fields_are_refused_where_the_schema_says_so(api: APIClient) -> None:
    response = api.post("/v1/webhooks", {"url": "http://127.0.0.1/hook", "colour": "red"}, format="json")

    assert response.status_code == 400
    assert response.json()["extra"]["fields"] == {"colour": ["Unknown field."]}


@pytest.mark.parametrize(
    ("path", "method", "status", "links"),
    [
        (
            "/v1/account-requests",
            "post",
            "202",
            {
                "account_requests_retrieve",
                "account_requests_cancel",
                "account_requests_retry",
                "account_requests_approve",
                "account_requests_reject",
            },
        ),
        ("/v1/accounts", "get", "200", {"accounts_retrieve", "account_commands_list", "account_commands_create"}),
        (
            "/v1/accounts/{account_id}/commands",
            "post",
            "202",
            {"account_commands_retrieve", "account_commands_approve", "account_commands_reject"},
        ),
        ("/v1/webhooks", "post", "201", {"webhooks_retrieve", "webhooks_deliveries_list", "webhooks_deactivate"}),
        ("/v1/dead-letters", "get", "200", {"dead_letters_retrieve", "dead_letters_redrive", "dead_letters_discard"}),
    ],
)
def test_answers_link_to_the_operations_their_ids_lead_to(
    schema: dict[str, Any], path: str, method: str, status: str, links: set[str]
) -> None:
    documented = schema["paths"][path][method]["responses"][status]["links"]
    operation_ids = {
        operation["operationId"]
        for operations in schema["paths"].values()
        for operation in operations.values()
        if isinstance(operation, dict) and "operationId" in operation
    }

    assert set(documented) == links
    assert {link["operationId"] for link in documented.values()} <= operation_ids


def test_an_unknown_payer_is_a_documented_400(api: APIClient, schema: dict[str, Any], payer: Any) -> None:
    """A refusal no schema can express: the payer must exist and be granted."""
    assert "payer" in schema["paths"]["/v1/accounts"]["get"]["responses"]["400"]["description"]
    assert accounts.payer_get(name="nobody") is None

    response = api.get("/v1/accounts?payer=nobody")

    assert response.status_code == 400
    assert "payer" in response.json()["extra"]["fields"]

"""Every validation rule of ``POST /v1/account-requests``, both sides of every boundary.

A refused request answers 400 ``{"code": "validation_error", "message", "extra": {"fields"}}``
naming exactly the bad field, and writes nothing: no request, no outbox message.
"""

import copy
import json
from typing import Any, cast

import pytest
from rest_framework.test import APIClient

from apps.accounts import api as accounts
from apps.intake.models import AccountRequest
from apps.kernel.models import OutboxMessage
from tests.support import factories
from tests.support.factories import request_body

pytestmark = pytest.mark.django_db

URL = "/v1/account-requests"
# 50 distinct valid usernames: user_aa, user_ab, …
FIFTY_USERNAMES = [f"user_{chr(97 + i // 26)}{chr(97 + i % 26)}" for i in range(50)]


def post(api: APIClient, body: Any) -> Any:
    return api.post(URL, body, format="json")


def post_raw(api: APIClient, content: str | bytes, content_type: str = "application/json") -> Any:
    # The test client sends bytes as they are (its stubs only admit str).
    return api.generic("POST", URL, cast(str, content), content_type=content_type)


def request_body_without(path: str) -> dict[str, Any]:
    """A valid body with the field at ``path`` (``tags__cost_center`` style) removed."""
    body = request_body()
    target = body
    *parents, leaf = path.split("__")
    for parent in parents:
        target = target[parent]
    del target[leaf]
    return body


def lookup(body: dict[str, Any], path: str) -> Any:
    value: Any = body
    for key in path.split("__"):
        value = value[key]
    return value


def assert_nothing_written() -> None:
    assert AccountRequest.objects.count() == 0
    assert OutboxMessage.objects.count() == 0


def assert_refused(response: Any, field: str) -> None:
    """400 in the one error shape, naming ``field`` (``tags__cost_center`` → ``{"tags": {"cost_center": …}}``)
    and nothing else, and nothing stored."""
    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body) == {"code", "message", "extra"}
    assert body["code"] == "validation_error"
    assert isinstance(body["message"], str)
    assert body["message"]
    assert set(body["extra"]) == {"fields"}
    errors: Any = body["extra"]["fields"]
    for key in field.split("__"):
        assert isinstance(errors, dict), errors
        assert set(errors) == {key}, f"expected only {key!r} named, got {errors}"
        errors = errors[key]
    assert isinstance(errors, list), errors
    assert errors, errors
    assert all(isinstance(message, str) and message for message in errors), errors
    assert_nothing_written()


def assert_accepted(response: Any) -> AccountRequest:
    assert response.status_code == 202, response.content
    return AccountRequest.objects.get(id=response.json()["id"])


# --- Accepted: the inside edge of every boundary ----------------------------------------

ACCEPTED_VALUES: list[tuple[str, Any]] = [
    ("tags__project_name", "abc"),
    ("tags__project_name", "x" * 30),
    ("tags__project_name", "Project with spaces 42"),
    ("tags__cost_center", "0000000000"),
    ("tags__cost_center", "9999999999"),
    ("tags__project_short_name", "ab"),
    ("tags__project_short_name", "a" * 15),
    ("tags__project_short_name", "proj2024"),
    ("tags__project_short_name", "42"),
    ("technical_contact__username", "abc"),
    ("technical_contact__username", "a" * 20),
    ("technical_contact__username", "white_w"),
    ("technical_contact__username", "___"),
    ("requestor__username", "abc"),
    ("requestor__username", "d" * 20),
    ("requestor__username", "doe_j"),
    ("technical_contact__full_name", "Ann"),
    ("technical_contact__full_name", "w" * 50),
    ("requestor__full_name", "Joe"),
    ("requestor__full_name", "j" * 50),
    ("requestor__manager", "Fed"),
    ("requestor__manager", "m" * 50),
    ("requestor__department", "R&D"),
    ("requestor__department", "d" * 50),
    ("requestor__email", "a@example.com"),
    ("requestor__email", "first.last+tag@sub.example.co.uk"),
    ("external_transaction_id", ""),
    ("external_transaction_id", "t" * 50),
    ("comment", ""),
    ("comment", "c" * 100),
    ("vpc__az_count", 2),
    ("vpc__az_count", 3),
    ("vpc__prefix_length", 23),
    ("vpc__prefix_length", 24),
    ("regulated", True),
    ("regulated", False),
    ("environment", "dev"),
    ("environment", "tst"),
    ("environment", "stg"),
    ("environment", "prd"),
    ("region", "us-east-1"),
    ("region", "us-west-2"),
    ("user_access_list", ["abc"]),
    ("user_access_list", ["whitew", "doej"]),
    ("user_access_list", FIFTY_USERNAMES),
]


@pytest.mark.parametrize(("field", "value"), ACCEPTED_VALUES, ids=lambda v: repr(v)[:40])
def test_values_on_the_inside_of_each_boundary_are_accepted_and_stored_as_sent(
    api: APIClient, payer: accounts.PayerSummary, field: str, value: Any
) -> None:
    request = assert_accepted(post(api, request_body(**{field: value})))

    assert lookup(request.body, field) == value
    assert OutboxMessage.objects.filter(type="AccountRequested").count() == 1


@pytest.mark.parametrize("field", ["external_transaction_id", "comment"])
def test_optional_fields_may_be_omitted_and_default_to_empty(
    api: APIClient, payer: accounts.PayerSummary, field: str
) -> None:
    request = assert_accepted(post(api, request_body_without(field)))

    assert request.body[field] == ""


@pytest.mark.parametrize(
    "project_name",
    [
        "O'Brien's project",
        'The "Fancy" one',
        'It\'s "quoted"',
        "back\\slash",
        '{"a": "b"}',
    ],
)
def test_quotes_and_apostrophes_in_project_name_survive_storage_event_and_status(
    api: APIClient, payer: accounts.PayerSummary, project_name: str
) -> None:
    """The original service built JSON by concatenation and broke on a quote."""
    response = post(api, request_body(tags__project_name=project_name))

    request = assert_accepted(response)
    assert request.body["tags"]["project_name"] == project_name
    [event] = OutboxMessage.objects.filter(type="AccountRequested")
    assert event.envelope["payload"]["tags"]["project_name"] == project_name
    status = api.get(response.json()["status_url"]).json()
    assert status["request"]["tags"]["project_name"] == project_name


# --- Refused: the outside edge of every boundary, and wrong types ----------------------

NOT_BOOLEANS: tuple[Any, ...] = ("true", "false", "yes", 0, 1, "", None, [], {})

REFUSED_VALUES: list[tuple[str, Any, str]] = [
    # (field sent, value, field named in the error)
    # project_name: 3-30 printable characters
    ("tags__project_name", "ab", "tags__project_name"),
    ("tags__project_name", "x" * 31, "tags__project_name"),
    ("tags__project_name", "", "tags__project_name"),
    ("tags__project_name", "     ", "tags__project_name"),
    ("tags__project_name", "  ab  ", "tags__project_name"),
    ("tags__project_name", "two\nlines", "tags__project_name"),
    ("tags__project_name", "tab\there", "tags__project_name"),
    ("tags__project_name", "nul\x00char", "tags__project_name"),
    ("tags__project_name", None, "tags__project_name"),
    ("tags__project_name", ["My project"], "tags__project_name"),
    # cost_center: exactly 10 ASCII digits
    ("tags__cost_center", "123456789", "tags__cost_center"),
    ("tags__cost_center", "12345678901", "tags__cost_center"),
    ("tags__cost_center", "12345abcde", "tags__cost_center"),
    ("tags__cost_center", "12345 6789", "tags__cost_center"),
    ("tags__cost_center", "-123456789", "tags__cost_center"),
    ("tags__cost_center", "١٢٣٤٥٦٧٨٩٠", "tags__cost_center"),  # Arabic-Indic digits are not digits here
    ("tags__cost_center", "", "tags__cost_center"),
    ("tags__cost_center", None, "tags__cost_center"),
    # project_short_name: [a-z0-9]{2,15}
    ("tags__project_short_name", "a", "tags__project_short_name"),
    ("tags__project_short_name", "a" * 16, "tags__project_short_name"),
    ("tags__project_short_name", "MSFP", "tags__project_short_name"),
    ("tags__project_short_name", "ms-fp", "tags__project_short_name"),
    ("tags__project_short_name", "ms_fp", "tags__project_short_name"),
    ("tags__project_short_name", "ms.fp", "tags__project_short_name"),
    ("tags__project_short_name", "ms fp", "tags__project_short_name"),
    ("tags__project_short_name", "msfé", "tags__project_short_name"),
    ("tags__project_short_name", "", "tags__project_short_name"),
    # usernames: [a-z_]{3,20}
    *[
        (field, value, field)
        for field in ("technical_contact__username", "requestor__username")
        for value in ("ab", "a" * 21, "Doej", "doe1", "doe-j", "doe.j", "", None)
    ],
    # names, manager, department: 3-50
    *[
        (field, value, field)
        for field in (
            "technical_contact__full_name",
            "requestor__full_name",
            "requestor__manager",
            "requestor__department",
        )
        for value in ("ab", "x" * 51, "", "   ", None)
    ],
    # email
    *[
        ("requestor__email", value, "requestor__email")
        for value in ("john.doe", "john@", "@example.com", "john doe@example.com", "john@@example.com", "", None)
    ],
    # optional free text, bounded
    ("external_transaction_id", "t" * 51, "external_transaction_id"),
    ("external_transaction_id", "bad\x07bell", "external_transaction_id"),
    ("comment", "c" * 101, "comment"),
    ("comment", "two\nlines", "comment"),
    # az_count 2|3 and prefix_length 23|24, as JSON integers only
    *[("vpc__az_count", value, "vpc__az_count") for value in (1, 4, 0, -2, "2", "3", 2.0, 2.5, True, None)],
    *[
        ("vpc__prefix_length", value, "vpc__prefix_length")
        for value in (22, 25, 16, 28, "24", "/24", "23", 24.0, True, None)
    ],
    # regulated: a JSON boolean only
    *[("regulated", value, "regulated") for value in NOT_BOOLEANS],
    # user_access_list: 1-50 distinct usernames
    ("user_access_list", [], "user_access_list"),
    ("user_access_list", [*FIFTY_USERNAMES, "user_zz"], "user_access_list"),
    ("user_access_list", ["whitew", "whitew"], "user_access_list"),
    ("user_access_list", ["whitew", "doej", "whitew"], "user_access_list"),
    ("user_access_list", "whitew", "user_access_list"),
    ("user_access_list", {"whitew": True}, "user_access_list"),
    ("user_access_list", None, "user_access_list"),
    ("user_access_list", ["ab"], "user_access_list__0"),
    ("user_access_list", ["whitew", "White"], "user_access_list__1"),
    ("user_access_list", ["whitew", 42], "user_access_list__1"),
    # the payer decides environments and regions
    *[("environment", value, "environment") for value in ("prod", "qa", "DEV", "dev1", "", None)],
    *[("region", value, "region") for value in ("eu-west-1", "us-east-2", "US-EAST-1", "", None)],
    # unknown payer
    *[("payer", value, "payer") for value in ("nosuch", "DEMO", "demo-other", "x" * 11, "", None)],
    # nested objects must be objects
    ("vpc", [2, 24], "vpc__non_field_errors"),
    ("vpc", "2/24", "vpc__non_field_errors"),
    ("vpc", None, "vpc"),
    ("tags", "msfp", "tags__non_field_errors"),
    ("technical_contact", ["Walter White", "whitew"], "technical_contact__non_field_errors"),
    ("requestor", "john.doe@example.com", "requestor__non_field_errors"),
]


@pytest.mark.parametrize(("field", "value", "named"), REFUSED_VALUES, ids=lambda v: repr(v)[:40])
def test_values_outside_each_boundary_are_refused_on_that_field(
    api: APIClient, payer: accounts.PayerSummary, field: str, value: Any, named: str
) -> None:
    assert_refused(post(api, request_body(**{field: value})), named)


REQUIRED_FIELDS = [
    "payer",
    "regulated",
    "environment",
    "region",
    "vpc",
    "vpc__az_count",
    "vpc__prefix_length",
    "tags",
    "tags__cost_center",
    "tags__project_name",
    "tags__project_short_name",
    "user_access_list",
    "technical_contact",
    "technical_contact__full_name",
    "technical_contact__username",
    "requestor",
    "requestor__full_name",
    "requestor__username",
    "requestor__manager",
    "requestor__department",
    "requestor__email",
]


@pytest.mark.parametrize("field", REQUIRED_FIELDS)
def test_a_missing_required_field_is_refused_on_that_field(
    api: APIClient, payer: accounts.PayerSummary, field: str
) -> None:
    assert_refused(post(api, request_body_without(field)), field)


@pytest.mark.parametrize(
    ("field", "named"),
    [
        ("accountCbAlias", "accountCbAlias"),
        ("project_name", "project_name"),
        ("vpc__cidr", "vpc__cidr"),
        ("tags__owner", "tags__owner"),
        ("tags__Cost_Center", "tags__Cost_Center"),
        ("technical_contact__email", "technical_contact__email"),
        ("requestor__phone", "requestor__phone"),
    ],
)
def test_unknown_fields_are_refused_at_top_level_and_nested(
    api: APIClient, payer: accounts.PayerSummary, field: str, named: str
) -> None:
    assert_refused(post(api, request_body(**{field: "x"})), named)


def test_every_bad_field_is_reported_at_once(api: APIClient, payer: accounts.PayerSummary) -> None:
    response = post(
        api,
        request_body(tags__project_name="ab", tags__cost_center="1", requestor__email="nope", vpc__az_count="2"),
    )

    assert response.status_code == 400
    fields = response.json()["extra"]["fields"]
    assert set(fields) == {"tags", "requestor", "vpc"}
    assert set(fields["tags"]) == {"project_name", "cost_center"}
    assert set(fields["requestor"]) == {"email"}
    assert set(fields["vpc"]) == {"az_count"}
    assert_nothing_written()


def test_environment_and_region_the_payer_refuses_are_both_named(api: APIClient, payer: accounts.PayerSummary) -> None:
    response = post(api, request_body(environment="prod", region="eu-west-1"))

    assert response.status_code == 400
    assert set(response.json()["extra"]["fields"]) == {"environment", "region"}
    assert_nothing_written()


def test_an_inactive_payer_is_unknown(api: APIClient, payer: accounts.PayerSummary) -> None:
    from apps.accounts.models import Payer

    Payer.objects.filter(name="demo").update(active=False)

    assert_refused(post(api, request_body()), "payer")


def test_allowed_values_are_the_payers_not_a_global_list(api: APIClient, payer: accounts.PayerSummary) -> None:
    factories.payer(
        "narrow", management_account_id="222222222222", allowed_environments=["prd"], allowed_regions=["eu-west-1"]
    )

    assert_refused(post(api, request_body(payer="narrow", environment="dev", region="eu-west-1")), "environment")
    assert_refused(post(api, request_body(payer="narrow", environment="prd", region="us-east-1")), "region")
    assert_accepted(post(api, request_body(payer="narrow", environment="prd", region="eu-west-1")))


# --- Not a request body at all ----------------------------------------------------------


@pytest.mark.parametrize("body", [[], [request_body()], "a string", 42, True, None], ids=repr)
def test_a_body_that_is_not_a_json_object_is_refused(api: APIClient, payer: accounts.PayerSummary, body: Any) -> None:
    assert_refused(post_raw(api, json.dumps(body)), "non_field_errors")


def test_an_empty_object_names_every_required_top_level_field(api: APIClient, payer: accounts.PayerSummary) -> None:
    response = post(api, {})

    assert response.status_code == 400
    required_top_level = {field for field in REQUIRED_FIELDS if "__" not in field}
    assert set(response.json()["extra"]["fields"]) == required_top_level
    assert_nothing_written()


@pytest.mark.parametrize(
    "content",
    [
        '{"payer": "demo",',
        "{'payer': 'demo'}",
        '{"payer": "demo"}}',
        "payer=demo",
        json.dumps(request_body())[:-1],
        b"\xff\xfe{}",
    ],
    ids=repr,
)
def test_malformed_json_is_a_parse_error(api: APIClient, payer: accounts.PayerSummary, content: str | bytes) -> None:
    response = post_raw(api, content)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "parse_error"
    assert isinstance(body["message"], str)
    assert body["message"]
    assert body["extra"] == {}
    assert_nothing_written()


def test_a_form_encoded_body_is_unsupported(api: APIClient, payer: accounts.PayerSummary) -> None:
    response = post_raw(api, "payer=demo&regulated=false", content_type="application/x-www-form-urlencoded")

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
    assert_nothing_written()


def test_the_valid_body_itself_is_accepted(api: APIClient, payer: accounts.PayerSummary) -> None:
    """The control for every refusal above: only the changed field makes the difference."""
    body = request_body()

    request = assert_accepted(post(api, copy.deepcopy(body)))

    assert request.body == body

"""Tailor's own examples, signed by botocore and replayed against the facade: its answers,
compared field by field (and byte by byte where its API Gateway templates fix the bytes)
with what Tailor documents. A refused request writes nothing."""

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from apps.accounts import api as accounts
from apps.cloud.emulator import ensure_organization
from apps.intake.models import AccountRequest
from apps.intake.services import request_mark_failed
from apps.kernel.models import OutboxMessage
from tests.conftest import EmulatedAws
from tests.legacy.conftest import PAYER
from tests.legacy.signing import FIXTURES, SignedClient, fixture, fixture_text
from tests.support import factories
from tests.support.bus import drain

pytestmark = pytest.mark.django_db

# Bespoke's own example (payer demo), which the v1 docs show too.
EXAMPLE = json.loads(
    (Path(__file__).resolve().parents[2] / "docs" / "examples" / "legacy-account-request.json").read_text()
)


def legacy_body(**fields: Any) -> dict[str, Any]:
    """Bespoke's example with ``fields`` replaced (a value of ``...`` removes the field)."""
    inner = {**EXAMPLE["accountRequest"], **fields}
    return {"accountRequest": {name: value for name, value in inner.items() if value is not ...}}


REQUEST = fixture("readme-account-request-corrected.json")
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")  # its swagger's pattern


def templates() -> dict[str, bytes]:
    """Tailor's API Gateway error bodies by message."""
    lines = [line for line in (FIXTURES / "swagger-error-templates.txt").read_text().splitlines() if line[:1].isdigit()]
    return {json.loads(body)["message"]: body.encode() for _, body in (line.split(" ", 1) for line in lines)}


TEMPLATES = templates()


def with_fields(**fields: Any) -> dict[str, Any]:
    """Tailor's example with ``fields`` replaced (``...`` removes one)."""
    inner = {**REQUEST["accountRequest"], **fields}
    return {"accountRequest": {name: value for name, value in inner.items() if value is not ...}}


def accepted(response: Any) -> str:
    assert response.status_code == 202, response.content
    documented = fixture("readme-response-accepted.json")
    body = response.json()
    assert list(body) == list(documented)
    assert (body["code"], body["message"]) == (documented["code"], documented["message"])
    assert UUID4.match(body["requestId"])
    # as Tailor's Python runtime wrote it
    assert (
        response.content
        == fixture_text("readme-response-accepted.json").replace(documented["requestId"], body["requestId"]).encode()
    )
    request_id: str = body["requestId"]
    return request_id


def assert_bad_request(response: Any) -> dict[str, Any]:
    assert response.status_code == 400, response.content
    assert response.content == TEMPLATES["Bad request"]
    assert json.loads(response.content) == fixture("readme-response-bad-request.json")
    errors: dict[str, Any] = json.loads(response["X-Bespoke-Errors"])
    return errors


def assert_nothing_written() -> None:
    assert AccountRequest.objects.count() == 0
    assert OutboxMessage.objects.count() == 0


# --- POST /accounts -----------------------------------------------------------------------


def test_the_readmes_request_as_published_is_not_json_and_answers_4000(signed: SignedClient) -> None:
    response = signed.call("POST", "/accounts", raw=fixture_text("readme-account-request.json.txt").encode())
    assert_bad_request(response)
    assert_nothing_written()


def test_the_readmes_request_is_accepted_with_2020(signed: SignedClient) -> None:
    request_id = accepted(signed.call("POST", "/accounts", REQUEST))

    stored = AccountRequest.objects.get(id=request_id)
    assert (stored.payer, stored.environment, stored.region) == (PAYER, "tst", "us-east-1")
    assert stored.account_email == "aws.acme.msfp.tst@mycompany.com"
    assert stored.external_transaction_id == "RITM00001"
    assert stored.body["user_access_list"] == ["obamabadmin"]


@pytest.mark.parametrize("path", ["/account", "/accounts/"])
def test_the_documented_paths_accept_it_too(signed: SignedClient, path: str) -> None:
    accepted(signed.call("POST", path, REQUEST))


def test_unknown_fields_are_ignored_as_tailor_ignored_them(signed: SignedClient) -> None:
    body = with_fields(accountFavouriteColour="teal")
    body["somethingElse"] = {"x": 1}
    accepted(signed.call("POST", "/accounts", body))


def test_tailors_longer_limits_are_accepted(signed: SignedClient) -> None:
    request_id = accepted(
        signed.call(
            "POST",
            "/accounts",
            with_fields(
                accountTagLongProjectName="p" * 50,
                requestorDepartment="d" * 100,
                externalTransactionId="x" * 500,
                comment="c" * 200,
            ),
        )
    )
    assert len(AccountRequest.objects.get(id=request_id).external_transaction_id) == 500


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("accountTagLongProjectName", "p" * 51),
        ("requestorDepartment", "d" * 101),
        ("externalTransactionId", "x" * 501),
        ("comment", "c" * 201),
    ],
)
def test_beyond_tailors_limits_answers_4000(signed: SignedClient, field: str, value: str) -> None:
    assert field in assert_bad_request(signed.call("POST", "/accounts", with_fields(**{field: value})))
    assert_nothing_written()


def test_account_region_may_be_an_array(signed: SignedClient) -> None:
    request_id = accepted(signed.call("POST", "/accounts", with_fields(accountRegion=["us-west-2"])))
    assert AccountRequest.objects.get(id=request_id).region == "us-west-2"


def test_an_array_of_regions_reaches_v1_as_its_regions(signed: SignedClient) -> None:
    request_id = accepted(signed.call("POST", "/accounts", with_fields(accountRegion=["us-west-2", "us-east-1"])))
    stored = AccountRequest.objects.get(id=request_id)
    assert stored.region == "us-west-2"  # the primary region: the first
    assert stored.body["regions"] == ["us-west-2", "us-east-1"]


def test_a_region_the_payer_does_not_allow_among_several_answers_4000(signed: SignedClient) -> None:
    errors = assert_bad_request(signed.call("POST", "/accounts", with_fields(accountRegion=["us-east-1", "eu-west-9"])))
    assert "accountRegion" in errors
    assert_nothing_written()


BAD_FIELDS = [
    ("accountRegulated", "maybe"),
    ("accountVpcAzCount", "4"),
    ("accountVpcPrefix", "/16"),
    ("accountRegion", "mars-north-1"),
    ("accountRegion", []),
    ("accountRegion", ["us-east-1", "us-east-1"]),
    ("accountTagCostCenter", "12"),
    ("accountTagLongProjectName", "ab"),
    ("accountTagShortProjectName", "Not Short!"),
    ("accountTagEnvironment", "qa"),
    ("accountUserAccessList", []),
    ("accountTechnicalContactFullName", "W"),
    ("accountTechnicalContactUsername", "W W"),
    ("requestorFullName", ""),
    ("requestorUsername", "DOE"),
    ("requestorManager", "F"),
    ("requestorEmailAddress", "not-an-email"),
    ("accountTagShortProjectName", ...),
]


@pytest.mark.parametrize(("field", "value"), BAD_FIELDS)
def test_each_bad_field_answers_tailors_4000(signed: SignedClient, field: str, value: Any) -> None:
    errors = assert_bad_request(signed.call("POST", "/accounts", with_fields(**{field: value})))
    assert field in errors
    assert_nothing_written()


@pytest.mark.parametrize("body", [[], {"notARequest": {}}, {"accountRequest": "x"}])
def test_a_body_without_the_account_request_object_answers_4000(signed: SignedClient, body: Any) -> None:
    assert_bad_request(signed.call("POST", "/accounts", body))


def test_a_duplicate_answers_4090(signed: SignedClient) -> None:
    first = accepted(signed.call("POST", "/accounts", REQUEST))
    response = signed.call("POST", "/accounts", REQUEST)
    assert response.status_code == 409
    assert response.content == TEMPLATES["Duplicate request"]
    assert json.loads(response.content) == fixture("readme-response-duplicate.json")
    assert response["Location"] == f"/requeststatus/{first}"


def test_a_payer_the_client_is_not_granted_answers_4030(make_signed: Callable[..., SignedClient]) -> None:
    factories.payer("other")
    response = make_signed(payers=("other",)).call("POST", "/accounts", REQUEST)
    assert response.status_code == 403
    assert response.content == TEMPLATES["Forbidden"]
    assert_nothing_written()


def test_a_client_without_requests_write_answers_4030(make_signed: Callable[..., SignedClient]) -> None:
    response = make_signed("requests:read").call("POST", "/accounts", REQUEST)
    assert response.status_code == 403
    assert response.content == TEMPLATES["Forbidden"]


def test_an_unexpected_error_answers_5000_without_its_details(
    signed: SignedClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(**kwargs: Any) -> Any:
        raise RuntimeError("secret detail")

    monkeypatch.setattr("apps.intake.legacy.views.request_submit", boom)
    response = signed.call("POST", "/accounts", REQUEST)
    assert response.status_code == 500
    assert response.content == TEMPLATES["Internal error message. Contact your internal AWS Support team."]


@pytest.mark.parametrize(("method", "path"), [("GET", "/nothing-here"), ("DELETE", "/accounts"), ("POST", "/vpc")])
def test_unknown_paths_and_methods_answer_tailors_json_404(signed: SignedClient, method: str, path: str) -> None:
    response = signed.call(method, path)
    assert response.status_code == 404
    assert response.content == TEMPLATES["Not found"]
    assert response["Content-Type"] == "application/json"


# --- GET /requeststatus ------------------------------------------------------------------------


def status_of(signed: SignedClient, request_id: str, *, query: bool = False) -> dict[str, Any]:
    if query:
        response = signed.call("GET", "/requeststatus", query={"requestId": request_id})
    else:
        response = signed.call("GET", f"/requeststatus/{request_id}")
    assert response.status_code == 200, response.content
    document: dict[str, Any] = response.json()
    return document


@pytest.mark.parametrize("query", [False, True])
def test_the_status_while_running_has_every_task_key_from_the_start(signed: SignedClient, query: bool) -> None:
    request_id = accepted(signed.call("POST", "/accounts", REQUEST))
    documented = fixture("requeststatus-keys.json")

    status = status_of(signed, request_id, query=query)

    assert list(status) == list(documented)
    assert list(status["taskStatus"]) == list(documented["taskStatus"])
    assert status["taskStatus"] == documented["taskStatus"]
    assert (status["status"], status["accountId"]) == ("in_progress", "Unknown")
    assert status["accountName"] == "My Super Fancy Project"


def test_the_status_when_complete(signed: SignedClient, aws: EmulatedAws) -> None:
    factories.payer(
        PAYER, management_account_id=ensure_organization(), email_division="acme", email_domain="mycompany.com"
    )
    request_id = accepted(signed.call("POST", "/accounts", REQUEST))

    drain()

    status = status_of(signed, request_id)
    account = accounts.account_of_request(request_id=request_id)
    assert account is not None
    assert status["status"] == "complete"
    assert status["accountId"] == account.aws_account_id
    assert re.match(r"^\d{12}$", status["accountId"])
    assert set(status["taskStatus"].values()) == {"complete"}
    assert list(status["taskStatus"]) == list(fixture("requeststatus-keys.json")["taskStatus"])


def test_a_failed_request_reports_failed(signed: SignedClient) -> None:
    request_id = accepted(signed.call("POST", "/accounts", REQUEST))
    request_mark_failed(request_id=request_id, failure="create_account: ConstraintViolationException")
    assert status_of(signed, request_id)["status"] == "failed"


@pytest.mark.parametrize("request_id", ["not-a-uuid", "F7AD919D-C855-4BB7-9635-FC7C22CBA537"])
def test_a_malformed_request_id_answers_4000(signed: SignedClient, request_id: str) -> None:
    assert_bad_request(signed.call("GET", f"/requeststatus/{request_id}"))


def test_the_query_form_without_a_request_id_answers_4000(signed: SignedClient) -> None:
    assert_bad_request(signed.call("GET", "/requeststatus"))


def test_an_unknown_or_another_clients_request_answers_4040(
    signed: SignedClient, make_signed: Callable[..., SignedClient]
) -> None:
    request_id = accepted(signed.call("POST", "/accounts", REQUEST))
    for client, wanted in ((make_signed(), request_id), (signed, "00000000-0000-4000-8000-000000000000")):
        response = client.call("GET", f"/requeststatus/{wanted}")
        assert response.status_code == 404
        assert response.content == TEMPLATES["Not found"]


def test_a_client_without_requests_read_answers_4030(make_signed: Callable[..., SignedClient]) -> None:
    response = make_signed("requests:write").call("GET", "/requeststatus/00000000-0000-4000-8000-000000000000")
    assert response.status_code == 403
    assert response.content == TEMPLATES["Forbidden"]

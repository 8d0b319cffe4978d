"""Who may call ``/v1/account-requests``: a bearer token of an active client, with the scope
the method needs. Anything else is 401 (with a ``WWW-Authenticate: Bearer`` challenge) or
403, and writes nothing.
"""

import base64
from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.accounts import api as accounts
from apps.clients import api as clients
from apps.clients.contracts import REQUESTS_READ, REQUESTS_WRITE
from apps.clients.models import ApiClient, ApiToken
from apps.intake.models import AccountRequest
from apps.kernel import clock
from apps.kernel.models import OutboxMessage
from tests.support.factories import request_body

pytestmark = pytest.mark.django_db

URL = "/v1/account-requests"
SOME_REQUEST_URL = f"{URL}/00000000-0000-4000-8000-000000000000"


@pytest.fixture
def issued(db: None) -> clients.IssuedToken:
    """A client with every scope and its token."""
    return clients.client_create(name="portal", scopes=list(clients.ALL_SCOPES), all_payers=True)


def client_with_scopes(*scopes: str) -> APIClient:
    issued = clients.client_create(name=f"client-{'-'.join(scopes) or 'none'}", scopes=list(scopes), payers=["demo"])
    return client_with(f"Bearer {issued.token}")


def client_with(authorization: str | None) -> APIClient:
    api = APIClient()
    if authorization is not None:
        api.credentials(HTTP_AUTHORIZATION=authorization)
    return api


def post(api: APIClient) -> Any:
    return api.post(URL, request_body(), format="json")


def assert_error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "extra"}
    assert body["code"] == code
    assert isinstance(body["message"], str)
    assert body["message"]
    assert body["extra"] == {}


def assert_challenge(response: Any) -> None:
    assert response.has_header("WWW-Authenticate")
    assert response["WWW-Authenticate"].startswith("Bearer ")


def assert_nothing_written() -> None:
    assert AccountRequest.objects.count() == 0
    assert OutboxMessage.objects.count() == 0


def test_the_token_of_an_active_client_with_all_scopes_is_accepted(
    issued: clients.IssuedToken, payer: accounts.PayerSummary
) -> None:
    """The control for every refusal below: same body, same endpoint, a good token."""
    api = client_with(f"Bearer {issued.token}")

    assert post(api).status_code == 202
    assert api.get(URL).status_code == 200


def test_the_scheme_name_is_case_insensitive(issued: clients.IssuedToken, payer: accounts.PayerSummary) -> None:
    assert post(client_with(f"bearer {issued.token}")).status_code == 202


@pytest.mark.parametrize(
    ("method", "url"), [("post", URL), ("get", URL), ("get", SOME_REQUEST_URL)], ids=["POST", "GET list", "GET one"]
)
def test_no_authorization_header_is_401_not_authenticated_with_a_bearer_challenge(
    payer: accounts.PayerSummary, method: str, url: str
) -> None:
    api = client_with(None)

    response = api.post(url, request_body(), format="json") if method == "post" else api.get(url)

    assert_error(response, 401, "not_authenticated")
    assert_challenge(response)
    assert_nothing_written()


BAD_AUTHORIZATIONS = [
    # other schemes, even carrying a valid token
    pytest.param(lambda token: f"Basic {base64.b64encode(b'portal:secret').decode()}", id="basic-credentials"),
    pytest.param(lambda token: f"Basic {token}", id="basic-with-token"),
    pytest.param(lambda token: f"Token {token}", id="token-scheme"),
    pytest.param(lambda token: token, id="no-scheme"),
    # malformed
    pytest.param(lambda token: "Bearer", id="bearer-alone"),
    pytest.param(lambda token: f"Bearer {token} {token}", id="two-tokens"),
    pytest.param(lambda token: "Bearer not-a-token", id="not-a-token"),
    pytest.param(lambda token: "Bearer bsp_", id="marker-only"),
    pytest.param(lambda token: "Bearer bsp__", id="empty-parts"),
    pytest.param(lambda token: f"Bearer xyz_{token.split('_', 1)[1]}", id="wrong-marker"),
    pytest.param(lambda token: f"Bearer {token.upper()}", id="upper-cased"),
    pytest.param(lambda token: f"Bearer {token[:-1]}", id="truncated"),
    pytest.param(lambda token: f"Bearer {token}x", id="extended"),
    # unknown: a well-formed token never issued, and the right prefix with a wrong secret
    pytest.param(lambda token: "Bearer bsp_000000000000_" + "A" * 43, id="never-issued"),
    pytest.param(lambda token: "Bearer " + "_".join([*token.split("_")[:2], "A" * 43]), id="wrong-secret"),
]


@pytest.mark.parametrize("authorization", BAD_AUTHORIZATIONS)
def test_wrong_scheme_malformed_or_unknown_token_is_401_authentication_failed(
    issued: clients.IssuedToken, payer: accounts.PayerSummary, authorization: Callable[[str], str]
) -> None:
    response = post(client_with(authorization(issued.token)))

    assert_error(response, 401, "authentication_failed")
    assert_challenge(response)
    assert_nothing_written()


def test_a_revoked_token_is_401(issued: clients.IssuedToken, payer: accounts.PayerSummary) -> None:
    ApiToken.objects.filter(client_id=issued.client_id).update(revoked_at=clock.now())

    response = post(client_with(f"Bearer {issued.token}"))

    assert_error(response, 401, "authentication_failed")
    assert_challenge(response)
    assert_nothing_written()


def test_the_token_of_an_inactive_client_is_401(issued: clients.IssuedToken, payer: accounts.PayerSummary) -> None:
    ApiClient.objects.filter(id=issued.client_id).update(active=False)

    response = post(client_with(f"Bearer {issued.token}"))

    assert_error(response, 401, "authentication_failed")
    assert_challenge(response)
    assert_nothing_written()


def test_revoking_one_token_leaves_the_clients_other_tokens_working(
    issued: clients.IssuedToken, payer: accounts.PayerSummary
) -> None:
    from apps.clients.services import token_issue

    second = token_issue(client=ApiClient.objects.get(id=issued.client_id))
    ApiToken.objects.filter(client_id=issued.client_id).exclude(prefix=second.token.split("_")[1]).update(
        revoked_at=clock.now()
    )

    assert post(client_with(f"Bearer {issued.token}")).status_code == 401
    assert post(client_with(f"Bearer {second.token}")).status_code == 202


@pytest.mark.parametrize("scopes", [(), (REQUESTS_READ,), ("accounts:read", "operations:admin")], ids=repr)
def test_posting_without_requests_write_is_403_permission_denied(
    payer: accounts.PayerSummary, scopes: tuple[str, ...]
) -> None:
    response = post(client_with_scopes(*scopes))

    assert_error(response, 403, "permission_denied")
    assert REQUESTS_WRITE in response.json()["message"]
    assert not response.has_header("WWW-Authenticate")
    assert_nothing_written()


@pytest.mark.parametrize("url", [URL, SOME_REQUEST_URL], ids=["list", "one"])
def test_reading_without_requests_read_is_403_permission_denied(
    make_api_client: Callable[..., APIClient], url: str
) -> None:
    response = make_api_client(REQUESTS_WRITE).get(url)

    assert_error(response, 403, "permission_denied")
    assert REQUESTS_READ in response.json()["message"]


def test_requests_write_alone_is_enough_to_post(
    make_api_client: Callable[..., APIClient], payer: accounts.PayerSummary
) -> None:
    assert post(make_api_client(REQUESTS_WRITE)).status_code == 202

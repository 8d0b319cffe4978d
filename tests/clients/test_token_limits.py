"""A token is held to its own scopes and expiry: it mints only narrower, shorter-lived
tokens, revokes only itself (unless it holds operations:admin), and stops at its expiry
with 401 token_expired — so a leaked token cannot outlive its revocation."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from rest_framework.test import APIClient

from apps.clients import api as clients
from apps.clients.contracts import ACCOUNTS_READ, OPERATIONS_ADMIN, REQUESTS_READ, REQUESTS_WRITE
from apps.clients.models import ApiToken
from apps.kernel import clock

pytestmark = pytest.mark.django_db

NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture
def frozen() -> Iterator[list[datetime]]:
    current = [NOW]
    clock.set_source(lambda: current[0])
    yield current
    clock.set_source(None)


def bearer(token: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return api


@pytest.fixture
def portal(payer: object) -> clients.IssuedToken:
    return clients.client_create(name="portal", scopes=[REQUESTS_READ, REQUESTS_WRITE], payers=["demo"])


def test_a_token_expires_after_the_default_ttl_with_401_token_expired(
    frozen: list[datetime], portal: clients.IssuedToken, settings: object
) -> None:
    assert portal.expires_at == NOW + timedelta(days=90)
    api = bearer(portal.token)
    assert api.get("/v1/account-requests").status_code == 200

    frozen[0] = NOW + timedelta(days=90)
    response = api.get("/v1/account-requests")

    assert response.status_code == 401
    assert response.json()["code"] == "token_expired"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_the_ttl_is_a_setting(frozen: list[datetime], payer: object, settings: object) -> None:
    settings.API_TOKEN_TTL_DAYS = 7  # type: ignore[attr-defined]

    issued = clients.client_create(name="short", scopes=[REQUESTS_READ], payers=["demo"])

    assert issued.expires_at == NOW + timedelta(days=7)


def test_a_token_mints_a_narrower_token(portal: clients.IssuedToken) -> None:
    minted = bearer(portal.token).post("/v1/tokens", {"scopes": [REQUESTS_READ]}, format="json")

    assert minted.status_code == 201, minted.content
    assert minted.json()["scopes"] == [REQUESTS_READ]
    narrow = bearer(minted.json()["token"])
    assert narrow.get("/v1/account-requests").status_code == 200
    assert narrow.post("/v1/account-requests", {}, format="json").status_code == 403


def test_a_token_cannot_mint_scopes_it_lacks(payer: object) -> None:
    reader = clients.client_create(name="reader", scopes=[REQUESTS_READ, ACCOUNTS_READ], payers=["demo"])
    narrow = bearer(bearer(reader.token).post("/v1/tokens", {"scopes": [REQUESTS_READ]}, format="json").json()["token"])

    refused = narrow.post("/v1/tokens", {"scopes": [REQUESTS_READ, ACCOUNTS_READ]}, format="json")

    assert refused.status_code == 403
    assert refused.json()["code"] == "token_scope_exceeded"
    assert ApiToken.objects.filter(client_id=reader.client_id).count() == 2


def test_a_token_cannot_mint_a_token_that_outlives_it(frozen: list[datetime], portal: clients.IssuedToken) -> None:
    api = bearer(portal.token)
    later = (NOW + timedelta(days=91)).isoformat()

    refused = api.post("/v1/tokens", {"expires_at": later}, format="json")
    default = api.post("/v1/tokens", {}, format="json")
    shorter = api.post("/v1/tokens", {"expires_at": (NOW + timedelta(days=1)).isoformat()}, format="json")

    assert refused.status_code == 403
    assert refused.json()["code"] == "token_expiry_exceeded"
    assert datetime.fromisoformat(default.json()["expires_at"]) == portal.expires_at
    assert datetime.fromisoformat(shorter.json()["expires_at"]) == NOW + timedelta(days=1)


def test_minted_and_rotated_tokens_never_outlive_the_first(frozen: list[datetime], portal: clients.IssuedToken) -> None:
    token = portal.token
    for _ in range(3):
        frozen[0] += timedelta(days=20)
        token = bearer(token).post("/v1/tokens/rotate").json()["token"]

    frozen[0] = NOW + timedelta(days=90)
    assert bearer(token).get("/v1/account-requests").json()["code"] == "token_expired"


def test_a_token_revokes_only_itself(portal: clients.IssuedToken) -> None:
    first = bearer(portal.token)
    second_token = first.post("/v1/tokens").json()["token"]
    second_prefix = second_token.split("_")[1]

    refused = first.delete(f"/v1/tokens/{second_prefix}")

    assert refused.status_code == 403
    assert refused.json()["code"] == "token_revoke_forbidden"
    assert bearer(second_token).get("/v1/account-requests").status_code == 200
    assert bearer(second_token).delete(f"/v1/tokens/{second_prefix}").status_code == 204
    assert bearer(second_token).get("/v1/account-requests").status_code == 401


def test_a_leaked_token_cannot_survive_its_revocation(portal: clients.IssuedToken) -> None:
    """The attack: a thief mints a spare, the owner revokes the leaked token — the spare
    (minted by the leaked one) still works, but it can neither revoke the owner's token
    nor outlive the leaked token's expiry; the owner's operator revokes the spare."""
    owner = bearer(portal.token)
    spare = bearer(owner.post("/v1/tokens").json()["token"])
    spare_prefix = spare.get("/v1/tokens").json()["results"][0]["prefix"]

    assert spare.delete(f"/v1/tokens/{portal.prefix}").status_code == 403  # can't lock the owner out
    operator = clients.client_create(name="portal-ops", scopes=[OPERATIONS_ADMIN, REQUESTS_READ], payers=["demo"])
    assert bearer(operator.token).delete(f"/v1/tokens/{spare_prefix}").status_code == 404  # another client's


def test_an_operations_admin_token_revokes_its_clients_other_tokens(payer: object) -> None:
    ops = clients.client_create(name="ops", scopes=[OPERATIONS_ADMIN, REQUESTS_READ], payers=["demo"])
    api = bearer(ops.token)
    other = api.post("/v1/tokens").json()

    assert api.delete(f"/v1/tokens/{other['prefix']}").status_code == 204
    assert bearer(other["token"]).get("/v1/account-requests").status_code == 401


def test_tokens_list_shows_each_tokens_scopes_and_expiry(portal: clients.IssuedToken) -> None:
    api = bearer(portal.token)
    api.post("/v1/tokens", {"scopes": [REQUESTS_READ]}, format="json")

    listed = api.get("/v1/tokens").json()["results"]

    assert sorted(tuple(t["scopes"]) for t in listed) == [(REQUESTS_READ,), (REQUESTS_READ, REQUESTS_WRITE)]
    assert all(t["expires_at"] for t in listed)


def test_narrowing_a_client_narrows_its_existing_tokens(portal: clients.IssuedToken) -> None:
    from apps.clients.models import ApiClient

    ApiClient.objects.filter(id=portal.client_id).update(scopes=[REQUESTS_READ])

    assert bearer(portal.token).post("/v1/account-requests", {}, format="json").status_code == 403


def test_the_mint_body_is_strict(portal: clients.IssuedToken) -> None:
    response = bearer(portal.token).post("/v1/tokens", {"scope": [REQUESTS_READ]}, format="json")

    assert response.status_code == 400
    assert "scope" in response.json()["extra"]["fields"]

"""API tokens: shown once, stored only as a SHA-256 digest, issued by ``create_client``,
and stamped with when they were last used."""

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from apps.clients import api as clients
from apps.clients.contracts import ALL_SCOPES, REQUESTS_READ, REQUESTS_WRITE
from apps.clients.models import ApiClient, ApiToken
from apps.kernel import clock

pytestmark = pytest.mark.django_db

URL = "/v1/account-requests"


@pytest.fixture(autouse=True)
def _demo_payer(payer: object) -> None:
    """Clients are granted payers: the payer ``demo`` exists."""


class FrozenClock:
    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta


@pytest.fixture
def frozen_clock() -> Iterator[FrozenClock]:
    frozen = FrozenClock(datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC))
    clock.set_source(frozen)
    yield frozen
    clock.set_source(None)


def bearer(token: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return api


def secret_of(token: str) -> str:
    """The part of ``bsp_<prefix>_<secret>`` that must never be stored."""
    marker, prefix, secret = token.split("_", 2)
    assert marker == "bsp"
    assert prefix
    assert len(secret) >= 32
    return secret


def database_dump() -> str:
    out = StringIO()
    call_command("dumpdata", stdout=out)
    return out.getvalue()


def create_client(*args: str) -> list[str]:
    out = StringIO()
    call_command("create_client", *args, stdout=out)
    return out.getvalue().splitlines()


# --- Storage ------------------------------------------------------------------------------


def test_only_the_sha256_digest_of_a_token_is_stored() -> None:
    issued = clients.client_create(name="portal", scopes=[REQUESTS_READ], payers=["demo"])

    stored = ApiToken.objects.get(client_id=issued.client_id)
    assert stored.digest == hashlib.sha256(issued.token.encode()).hexdigest()
    assert issued.token == f"bsp_{stored.prefix}_{secret_of(issued.token)}"


def test_the_raw_token_appears_nowhere_in_the_database() -> None:
    issued = clients.client_create(name="portal", scopes=list(ALL_SCOPES), all_payers=True)
    bearer(issued.token).get(URL)  # using it must not store it either

    dump = database_dump()

    assert issued.client_id in dump  # the dump does hold the client…
    assert issued.token not in dump  # …but neither the token…
    assert secret_of(issued.token) not in dump  # …nor its secret part


def test_every_token_is_different() -> None:
    client = ApiClient.objects.get(
        id=clients.client_create(name="portal", scopes=[REQUESTS_READ], payers=["demo"]).client_id
    )
    from apps.clients.services import token_issue

    tokens = {token_issue(client=client).token for _ in range(20)}

    assert len(tokens) == 20
    assert ApiToken.objects.filter(client=client).values("digest").distinct().count() == 21


# --- The create_client command --------------------------------------------------------


def test_create_client_prints_a_working_token_once() -> None:
    lines = create_client("ticketing", "--scope", REQUESTS_READ, "--payer", "demo")

    token = lines[-1]
    assert sum(token in line for line in lines) == 1
    assert "ticketing" in lines[0]
    secret_of(token)
    assert bearer(token).get(URL).status_code == 200
    assert ApiClient.objects.get(name="ticketing").scopes == [REQUESTS_READ]


def test_create_client_grants_only_the_scopes_given() -> None:
    token = create_client("reader", "--scope", REQUESTS_READ, "--scope", "accounts:read", "--payer", "demo")[-1]

    assert sorted(ApiClient.objects.get(name="reader").scopes) == ["accounts:read", REQUESTS_READ]
    response = bearer(token).post(URL, {}, format="json")
    assert response.status_code == 403
    assert REQUESTS_WRITE in response.json()["message"]


def test_create_client_without_a_scope_refuses_and_lists_the_scopes() -> None:
    with pytest.raises(CommandError, match="--scope") as refused:
        create_client("operator", "--payer", "demo")

    assert all(scope in str(refused.value) for scope in ALL_SCOPES)
    assert not ApiClient.objects.exists()


def test_create_client_without_a_payer_refuses_and_lists_the_payers() -> None:
    with pytest.raises(CommandError, match="--payer") as refused:
        create_client("portal", "--scope", REQUESTS_READ)

    assert "demo" in str(refused.value)  # the payers there are to choose from
    assert not ApiClient.objects.exists()


def test_create_client_refuses_an_unknown_payer() -> None:
    with pytest.raises(CommandError, match="nope"):
        create_client("portal", "--scope", REQUESTS_READ, "--payer", "nope")

    assert not ApiClient.objects.exists()


def test_every_payer_is_only_for_operators() -> None:
    with pytest.raises(CommandError, match="operations:admin"):
        create_client("portal", "--scope", REQUESTS_READ, "--all-payers")

    create_client("ops", "--scope", "operations:admin", "--scope", REQUESTS_READ, "--all-payers")
    assert ApiClient.objects.get(name="ops").all_payers


def test_create_client_grants_payers_narrowed_to_environments() -> None:
    create_client("portal", "--scope", REQUESTS_READ, "--payer", "demo:dev,tst")

    [grant] = ApiClient.objects.get(name="portal").grants.all()
    assert (grant.payer, grant.environments) == ("demo", ["dev", "tst"])


def test_create_client_refuses_an_unknown_scope_and_creates_nothing() -> None:
    with pytest.raises(CommandError, match="requests:delete"):
        create_client("ticketing", "--scope", REQUESTS_READ, "--scope", "requests:delete", "--payer", "demo")

    assert not ApiClient.objects.exists()
    assert not ApiToken.objects.exists()


def test_create_client_refuses_a_duplicate_name_cleanly() -> None:
    first_token = create_client("ticketing", "--scope", REQUESTS_READ, "--payer", "demo")[-1]

    with pytest.raises(CommandError, match="ticketing"):
        create_client("ticketing", "--scope", REQUESTS_READ, "--payer", "demo")

    assert ApiClient.objects.filter(name="ticketing").count() == 1
    assert ApiToken.objects.count() == 1
    assert bearer(first_token).get(URL).status_code == 200


# --- last_used_at -------------------------------------------------------------------------


def test_last_used_at_is_recorded_when_a_token_is_used(frozen_clock: FrozenClock) -> None:
    issued = clients.client_create(name="portal", scopes=[REQUESTS_READ], payers=["demo"])
    assert ApiToken.objects.get(client_id=issued.client_id).last_used_at is None
    frozen_clock.advance(timedelta(hours=1))

    assert bearer(issued.token).get(URL).status_code == 200

    assert ApiToken.objects.get(client_id=issued.client_id).last_used_at == frozen_clock()


def test_last_used_at_is_rewritten_at_most_once_a_minute(frozen_clock: FrozenClock, settings: Any) -> None:
    """Once a minute, seen when the token's cached principal is loaded again: at most
    ``API_TOKEN_CACHE_SECONDS`` after the minute."""
    settings.API_TOKEN_CACHE_SECONDS = 5
    issued = clients.client_create(name="portal", scopes=[REQUESTS_READ], payers=["demo"])
    api = bearer(issued.token)
    first_use = frozen_clock()
    api.get(URL)

    frozen_clock.advance(timedelta(seconds=59))
    api.get(URL)  # loaded again (the cache's 5 s are over), but not a minute yet
    assert ApiToken.objects.get(client_id=issued.client_id).last_used_at == first_use

    frozen_clock.advance(timedelta(seconds=1))
    api.get(URL)  # a minute, but the principal loaded at 59 s is still cached
    assert ApiToken.objects.get(client_id=issued.client_id).last_used_at == first_use

    frozen_clock.advance(timedelta(seconds=5))
    api.get(URL)
    assert ApiToken.objects.get(client_id=issued.client_id).last_used_at == frozen_clock()


def test_a_failed_authentication_does_not_touch_last_used_at(frozen_clock: FrozenClock) -> None:
    issued = clients.client_create(name="portal", scopes=[REQUESTS_READ], payers=["demo"])
    marker, prefix, _ = issued.token.split("_", 2)

    response = bearer(f"{marker}_{prefix}_{'A' * 43}").get(URL)

    assert response.status_code == 401
    assert ApiToken.objects.get(client_id=issued.client_id).last_used_at is None

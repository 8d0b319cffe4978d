"""Clients manage their own tokens; every client is held to its request rate."""

from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from apps.clients import api as clients
from apps.clients.throttling import ClientRateThrottle

pytestmark = pytest.mark.django_db


def client_with(token: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return api


@pytest.fixture
def issued(db: None) -> clients.IssuedToken:
    return clients.client_create(name="portal", scopes=["requests:read"], payers=["demo"])


def test_a_client_lists_its_tokens_with_when_each_was_last_used(issued: clients.IssuedToken) -> None:
    api = client_with(issued.token)
    other = clients.client_create(name="other", scopes=["requests:read"], payers=["demo"])

    [token] = api.get("/v1/tokens").json()["results"]

    assert token["prefix"] == issued.token.split("_")[1]
    assert token["current"] is True
    assert token["last_used_at"] is not None  # this very call
    assert other.token.split("_")[1] not in str(api.get("/v1/tokens").json())


def test_rotating_replaces_the_token_in_use(issued: clients.IssuedToken) -> None:
    old = client_with(issued.token)

    rotated = old.post("/v1/tokens/rotate")

    assert rotated.status_code == 201
    assert old.get("/v1/tokens").status_code == 401  # the old token stopped working
    new = client_with(rotated.json()["token"])
    listed = {t["prefix"]: t for t in new.get("/v1/tokens").json()["results"]}
    assert listed[issued.token.split("_")[1]]["revoked_at"] is not None
    assert listed[rotated.json()["prefix"]]["current"] is True


def test_a_second_token_then_the_first_revokes_itself(issued: clients.IssuedToken) -> None:
    first = client_with(issued.token)
    second_token = first.post("/v1/tokens").json()["token"]
    second = client_with(second_token)

    assert first.delete(f"/v1/tokens/{issued.token.split('_')[1]}").status_code == 204

    assert first.get("/v1/account-requests").status_code == 401
    assert second.get("/v1/account-requests").status_code == 200
    assert second.delete("/v1/tokens/unknown").status_code == 404


def test_a_client_over_its_rate_gets_429_with_retry_after(issued: clients.IssuedToken, monkeypatch: Any) -> None:
    cache.clear()
    monkeypatch.setattr(ClientRateThrottle, "THROTTLE_RATES", {"client": "3/min"})
    api = client_with(issued.token)
    other = client_with(clients.client_create(name="calm", scopes=["requests:read"], payers=["demo"]).token)

    codes = [api.get("/v1/account-requests").status_code for _ in range(4)]

    assert codes == [200, 200, 200, 429]
    limited = api.get("/v1/account-requests")
    assert limited.status_code == 429
    assert limited.json()["code"] == "throttled"
    assert 0 < int(limited["Retry-After"]) <= 60
    assert other.get("/v1/account-requests").status_code == 200  # limits are per client


def test_the_rate_limit_still_holds_when_its_shared_cache_is_down(
    issued: clients.IssuedToken, monkeypatch: Any
) -> None:
    """The shared cache down: requests are still served (no 500, no refusal for all)
    and each process still limits each client, counting on its own."""

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("cache down")

    monkeypatch.setattr(ClientRateThrottle, "cache", type("Broken", (), {"get": broken, "set": broken})())
    monkeypatch.setattr(ClientRateThrottle, "THROTTLE_RATES", {"client": "3/min"})
    from apps.clients import throttling

    throttling._local_counts.clear()
    api = client_with(issued.token)

    codes = [api.get("/v1/account-requests").status_code for _ in range(4)]

    assert codes == [200, 200, 200, 429]


def test_the_rate_limit_is_shared_through_the_database_cache(
    issued: clients.IssuedToken, monkeypatch: Any, settings: Any
) -> None:
    """On Lambda (no cache server) every container counts in one database table: two
    separate throttle caches (two containers) see one count."""
    from django.core.cache import caches
    from django.core.management import call_command

    from project.settings.base import cache_settings

    settings.CACHES = {
        **cache_settings(url=None, shared=True),
        "other": cache_settings(url=None, shared=True)["default"],
    }
    call_command("createcachetable", verbosity=0)
    monkeypatch.setattr(ClientRateThrottle, "THROTTLE_RATES", {"client": "3/min"})
    container_a, container_b = caches["default"], caches["other"]
    assert container_a is not container_b
    api = client_with(issued.token)

    monkeypatch.setattr(ClientRateThrottle, "cache", container_a)
    first = [api.get("/v1/account-requests").status_code for _ in range(2)]
    monkeypatch.setattr(ClientRateThrottle, "cache", container_b)
    second = [api.get("/v1/account-requests").status_code for _ in range(2)]

    assert first + second == [200, 200, 200, 429]


@pytest.mark.django_db(transaction=True)
def test_a_failing_database_cache_does_not_abort_an_account_requests_transaction(
    payer: Any, monkeypatch: Any, settings: Any
) -> None:
    """On Lambda the rate is counted in the database, inside the transaction an account
    request's POST runs in: a count that fails (here, its table missing) falls back to this
    process's own count and the request is still accepted."""
    from django.core.cache import caches

    from project.settings.base import cache_settings
    from tests.support.factories import request_body

    settings.CACHES = {"default": {**cache_settings(url=None, shared=True)["default"], "LOCATION": "no_such_table"}}
    monkeypatch.setattr(ClientRateThrottle, "cache", caches["default"])
    from apps.clients import throttling

    throttling._local_counts.clear()
    writer = clients.client_create(name="writer", scopes=["requests:read", "requests:write"], payers=["demo"])

    answer = client_with(writer.token).post("/v1/account-requests", request_body(), format="json")

    assert answer.status_code == 202, answer.json()

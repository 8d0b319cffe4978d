"""A token's principal is cached per process for ``API_TOKEN_CACHE_SECONDS``: a change
made here (a revoke, a grant removed) takes effect at once; one made by another process —
seen here as a row changed without a signal — within that time, never later."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from apps.clients import api as clients
from apps.clients.contracts import REQUESTS_READ, REQUESTS_WRITE
from apps.clients.models import ApiClient, ApiToken, PayerGrant
from apps.kernel import clock
from tests.support.factories import request_body

pytestmark = pytest.mark.django_db

URL = "/v1/account-requests"
TTL = 5


class FrozenClock:
    def __init__(self) -> None:
        self.current = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


@pytest.fixture
def frozen_clock(payer: object, settings: Any) -> Iterator[FrozenClock]:
    settings.API_TOKEN_CACHE_SECONDS = TTL
    frozen = FrozenClock()
    clock.set_source(frozen)
    yield frozen
    clock.set_source(None)


def bearer(token: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return api


def issue(*scopes: str) -> tuple[clients.IssuedToken, APIClient]:
    issued = clients.client_create(name="portal", scopes=list(scopes or (REQUESTS_READ,)), payers=["demo"])
    return issued, bearer(issued.token)


def dry_run(api: APIClient) -> int:
    """A dry run of a request to the payer ``demo``: 200 while granted, 403 once not."""
    return int(api.post(f"{URL}?dry_run=true", request_body(), format="json").status_code)


def token_queries(api: APIClient) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert api.get(URL).status_code == 200
    return sum(1 for query in queries.captured_queries if 'FROM "clients_apitoken"' in query["sql"])


def test_a_cached_token_is_not_read_again_within_its_ttl(frozen_clock: FrozenClock) -> None:
    _, api = issue()

    assert token_queries(api) == 1
    frozen_clock.advance(TTL - 1)
    assert token_queries(api) == 0
    frozen_clock.advance(1)
    assert token_queries(api) == 1


def test_a_token_revoked_elsewhere_stops_working_within_the_ttl(frozen_clock: FrozenClock) -> None:
    issued, api = issue()
    assert api.get(URL).status_code == 200

    # Another process revokes it: this one hears no signal.
    ApiToken.objects.filter(client_id=issued.client_id).update(revoked_at=clock.now())

    frozen_clock.advance(TTL - 1)
    assert api.get(URL).status_code == 200  # still cached
    frozen_clock.advance(1)
    response = api.get(URL)
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_a_token_revoked_in_this_process_stops_working_at_once(frozen_clock: FrozenClock) -> None:
    _, api = issue()
    assert api.get(URL).status_code == 200

    assert api.delete(f"/v1/tokens/{ApiToken.objects.get().prefix}").status_code == 204

    assert api.get(URL).status_code == 401


def test_a_client_deactivated_elsewhere_stops_working_within_the_ttl(frozen_clock: FrozenClock) -> None:
    issued, api = issue()
    assert api.get(URL).status_code == 200

    ApiClient.objects.filter(id=issued.client_id).update(active=False)

    frozen_clock.advance(TTL)
    assert api.get(URL).status_code == 401


def test_a_grant_removed_elsewhere_stops_within_the_ttl(frozen_clock: FrozenClock) -> None:
    issued, api = issue(REQUESTS_READ, REQUESTS_WRITE)
    assert dry_run(api) == 200

    with connection.cursor() as cursor:  # another process: no signal
        cursor.execute("DELETE FROM clients_payergrant WHERE client_id = %s", [issued.client_id])

    frozen_clock.advance(TTL - 1)
    assert dry_run(api) == 200
    frozen_clock.advance(1)
    assert dry_run(api) == 403


def test_a_grant_removed_in_this_process_stops_at_once(frozen_clock: FrozenClock) -> None:
    issued, api = issue(REQUESTS_READ, REQUESTS_WRITE)
    assert dry_run(api) == 200

    PayerGrant.objects.get(client_id=issued.client_id).delete()

    assert dry_run(api) == 403


def test_a_cached_token_still_expires_on_time(frozen_clock: FrozenClock) -> None:
    issued, api = issue()
    ApiToken.objects.filter(client_id=issued.client_id).update(expires_at=clock.now() + timedelta(seconds=2))
    assert api.get(URL).status_code == 200

    frozen_clock.advance(2)  # within the cache's TTL, but the token's time is up

    response = api.get(URL)
    assert response.status_code == 401
    assert response.json()["code"] == "token_expired"


def test_a_ttl_of_zero_reads_the_token_every_time(frozen_clock: FrozenClock, settings: Any) -> None:
    settings.API_TOKEN_CACHE_SECONDS = 0
    issued, api = issue()
    assert token_queries(api) == 1
    assert token_queries(api) == 1

    ApiToken.objects.filter(client_id=issued.client_id).update(revoked_at=clock.now())

    assert api.get(URL).status_code == 401

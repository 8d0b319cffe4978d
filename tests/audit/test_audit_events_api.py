"""``GET /v1/audit-events``: operators read the log, newest first, filtered and paged."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from rest_framework.test import APIClient

from apps.audit.services import entry_record
from apps.clients.contracts import ACCOUNTS_ADMIN, OPERATIONS_ADMIN, REQUESTS_READ, REQUESTS_WRITE
from apps.kernel import clock

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def entries(db: None) -> None:
    for minutes, actor, action, target in [
        (0, "portal (c1)", "POST v1:account-request-collection", "r1"),
        (1, "alice", "admin:accounts.payer:change", "7"),
        (2, "portal (c1)", "POST v1:account-request-cancel", "r1"),
    ]:
        clock.set_source(lambda minutes=minutes: T0 + timedelta(minutes=minutes))
        entry_record(actor_type="client", actor=actor, action=action, target_id=target, status_code=202)
    clock.set_source(None)


def test_operators_read_the_log_newest_first(make_api_client: Callable[..., APIClient], entries: None) -> None:
    answer = make_api_client(OPERATIONS_ADMIN, all_payers=True).get("/v1/audit-events")

    assert answer.status_code == 200
    body = answer.json()
    assert body["count"] == 3
    assert [e["action"] for e in body["results"]] == [
        "POST v1:account-request-cancel",
        "admin:accounts.payer:change",
        "POST v1:account-request-collection",
    ]
    assert body["results"][0]["at"] == (T0 + timedelta(minutes=2)).isoformat()
    assert set(body["results"][0]) >= {"actor_type", "actor", "target_type", "source_ip", "request_id", "before"}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"actor": "portal"}, ["r1", "r1"]),
        ({"action": "payer"}, ["7"]),
        ({"target_id": "r1"}, ["r1", "r1"]),
        ({"since": (T0 + timedelta(minutes=1)).isoformat()}, ["r1", "7"]),
        ({"limit": 1, "offset": 1}, ["7"]),
    ],
)
def test_filters_and_paging(
    make_api_client: Callable[..., APIClient], entries: None, query: dict[str, object], expected: list[str]
) -> None:
    body = make_api_client(OPERATIONS_ADMIN, all_payers=True).get("/v1/audit-events", query).json()

    assert [e["target_id"] for e in body["results"]] == expected


def test_a_bad_filter_is_a_400(make_api_client: Callable[..., APIClient], db: None) -> None:
    answer = make_api_client(OPERATIONS_ADMIN, all_payers=True).get(
        "/v1/audit-events", {"since": "yesterday", "limit": 0}
    )

    assert answer.status_code == 400
    assert set(answer.json()["extra"]["fields"]) == {"since", "limit"}


@pytest.mark.parametrize("offset", [2**31, 2**63])
def test_an_offset_past_the_largest_page_is_a_400_not_a_database_error(
    make_api_client: Callable[..., APIClient], entries: None, offset: int
) -> None:
    """PostgreSQL's OFFSET is a bigint: 2**63 used to reach it and fail with a 500."""
    answer = make_api_client(OPERATIONS_ADMIN, all_payers=True).get("/v1/audit-events", {"offset": offset})

    assert answer.status_code == 400
    assert set(answer.json()["extra"]["fields"]) == {"offset"}


def test_only_operations_admin_may_read(make_api_client: Callable[..., APIClient], entries: None) -> None:
    answer = make_api_client(REQUESTS_READ, REQUESTS_WRITE, ACCOUNTS_ADMIN).get("/v1/audit-events")

    assert answer.status_code == 403
    assert answer.json()["code"] == "permission_denied"
    assert APIClient().get("/v1/audit-events").status_code == 401


def test_an_operator_of_one_payer_may_not_read_the_log(
    make_api_client: Callable[..., APIClient], entries: None
) -> None:
    """The log holds every tenant's actions: only an operator of every payer reads it."""
    answer = make_api_client(OPERATIONS_ADMIN, payers=("demo",)).get("/v1/audit-events")

    assert answer.status_code == 403
    assert answer.json()["code"] == "all_payers_required"

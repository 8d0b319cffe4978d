"""``GET /v1/compliance``: each account's latest snapshot, filtered by account and state;
and the read-only admin of snapshots."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.test import APIClient

from apps.compliance.models import ComplianceSnapshot
from apps.kernel import ids
from tests.support import factories

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
BAD = [{"rule": "s3-public", "compliance": "NON_COMPLIANT", "non_compliant_resources": [{"type": "t", "id": "b"}]}]
GOOD = [{"rule": "s3-public", "compliance": "COMPLIANT", "non_compliant_resources": []}]


def _snapshot(account: str, *, hours: int, compliant: bool) -> ComplianceSnapshot:
    return ComplianceSnapshot.objects.create(
        id=ids.new_id(),
        aws_account_id=account,
        payer="demo",
        taken_at=T0 + timedelta(hours=hours),
        rules=GOOD if compliant else BAD,
        compliant=compliant,
    )


@pytest.fixture
def snapshots() -> None:
    factories.payer("demo")
    for aws_account_id in ("111111111111", "222222222222"):
        factories.account(payer_name="demo", aws_account_id=aws_account_id)
    _snapshot("111111111111", hours=0, compliant=True)
    _snapshot("111111111111", hours=1, compliant=False)  # latest: non-compliant
    _snapshot("222222222222", hours=0, compliant=False)
    _snapshot("222222222222", hours=2, compliant=True)  # latest: compliant


def test_the_latest_snapshot_of_each_account(snapshots: None, make_api_client: Callable[..., APIClient]) -> None:
    response = make_api_client("accounts:read").get("/v1/compliance")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [(r["account_id"], r["compliant"], r["taken_at"]) for r in body["results"]] == [
        ("111111111111", False, (T0 + timedelta(hours=1)).isoformat()),
        ("222222222222", True, (T0 + timedelta(hours=2)).isoformat()),
    ]
    assert body["results"][0]["rules"] == BAD


@pytest.mark.parametrize(
    ("query", "accounts"),
    [
        ("?compliant=false", ["111111111111"]),
        ("?compliant=true", ["222222222222"]),
        ("?account=222222222222", ["222222222222"]),
        ("?account=222222222222&compliant=false", []),
        ("?account=333333333333", []),
    ],
)
def test_filters(snapshots: None, api: APIClient, query: str, accounts: list[str]) -> None:
    response = api.get(f"/v1/compliance{query}")

    assert response.status_code == 200
    assert [r["account_id"] for r in response.json()["results"]] == accounts


@pytest.mark.parametrize("query", ["?account=12", "?compliant=maybe"])
def test_bad_filters_are_a_400(api: APIClient, query: str) -> None:
    response = api.get(f"/v1/compliance{query}")

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


def test_the_admin_shows_snapshots_and_changes_none(snapshots: None) -> None:
    browser = Client()
    browser.force_login(User.objects.create_superuser("ops", "ops@example.com", "x"))
    snapshot = ComplianceSnapshot.objects.filter(compliant=False).first()
    assert snapshot is not None

    assert browser.get("/admin/compliance/compliancesnapshot/").status_code == 200
    assert browser.get(f"/admin/compliance/compliancesnapshot/{snapshot.id}/change/").status_code == 200
    assert browser.get("/admin/compliance/compliancesnapshot/add/").status_code == 403
    browser.post(f"/admin/compliance/compliancesnapshot/{snapshot.id}/delete/", {"post": "yes"})
    assert ComplianceSnapshot.objects.filter(id=snapshot.id).exists()

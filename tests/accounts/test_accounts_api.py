"""GET /v1/accounts (filters, pagination) and GET /v1/accounts/<id> (by either id, with
its provisioning history), against accounts vended through the whole flow."""

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.accounts.models import ManagedAccount, Payer
from apps.kernel import clock, ids
from tests.accounts.conftest import Vended

pytestmark = pytest.mark.django_db


def listed(api: APIClient, query: str = "") -> list[str]:
    response = api.get(f"/v1/accounts{query}")
    assert response.status_code == 200, response.json()
    return [item["id"] for item in response.json()["results"]]


def row(payer: str = "demo", **fields: Any) -> ManagedAccount:
    now = clock.now()
    values: dict[str, Any] = {
        "id": ids.new_id(),
        "payer": Payer.objects.get(name=payer),
        "email": f"{fields.get('name', 'x')}@example.com",
        "name": "x",
        "status": ManagedAccount.Status.ACTIVE,
        "aws_account_id": "",
        "created_at": now,
        "updated_at": now,
        **fields,
    }
    return ManagedAccount.objects.create(**values)


def test_a_vended_account_records_its_environment_and_tags(vend: Callable[..., Vended], api: APIClient) -> None:
    vended = vend()

    account = api.get(f"/v1/accounts/{vended.account_id}").json()

    assert (account["environment"], account["status"], account["source"]) == ("dev", "active", "vended")
    assert account["tags"]["project_short_name"] == "msfp"
    assert account["aws_account_id"] == vended.aws_account_id
    assert account["request_id"] == vended.request_id


def test_accounts_are_filtered_by_payer_environment_status_source_and_tag(
    demo_payer: Any, make_api_client: Callable[..., APIClient]
) -> None:
    api = make_api_client("accounts:read", payers=("demo", "other"))
    Payer.objects.create(
        name="other", management_account_id="999999999999", email_division="o", email_domain="example.com"
    )
    dev = row(name="dev", environment="dev", tags={"team": "red"})
    prd = row(name="prd", environment="prd", tags={"team": "blue", "sox": "yes"})
    adopted = row(name="adopted", environment="dev", source=ManagedAccount.Source.ADOPTED)
    unmanaged = row(
        name="found", source=ManagedAccount.Source.DISCOVERED, status=ManagedAccount.Status.UNMANAGED, payer="other"
    )

    assert set(listed(api)) == {dev.id, prd.id, adopted.id, unmanaged.id}
    assert set(listed(api, "?payer=demo")) == {dev.id, prd.id, adopted.id}
    assert listed(api, "?payer=other") == [unmanaged.id]
    assert set(listed(api, "?environment=dev")) == {dev.id, adopted.id}
    assert listed(api, "?status=unmanaged") == [unmanaged.id]
    assert listed(api, "?source=adopted") == [adopted.id]
    assert set(listed(api, "?tag=team")) == {dev.id, prd.id}
    assert listed(api, "?tag=team=blue") == [prd.id]
    assert listed(api, "?tag=sox") == [prd.id]
    assert listed(api, "?tag=team=green") == []
    assert listed(api, "?environment=dev&source=vended") == [dev.id]


def test_the_list_is_paginated_like_account_requests(demo_payer: Any, api: APIClient) -> None:
    made = [row(name=f"a{n}") for n in range(3)]
    made[0].created_at = made[1].created_at = made[2].created_at = clock.now()

    first = api.get("/v1/accounts?limit=2").json()
    second = api.get("/v1/accounts?limit=2&offset=2").json()

    assert set(first) == {"count", "results"}
    assert (first["count"], len(first["results"]), second["count"], len(second["results"])) == (3, 2, 3, 1)
    assert {i["id"] for i in first["results"] + second["results"]} == {a.id for a in made}
    assert first["results"][0]["url"].endswith(f"/v1/accounts/{first['results'][0]['id']}")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?status=sleeping", "status"),
        ("?source=bought", "source"),
        ("?environment=Dev!", "environment"),
        ("?payer=nobody", "payer"),
        ("?payer=NOT%20A%20NAME", "payer"),
        ("?tag==value", "tag"),
        ("?limit=0", "limit"),
        ("?offset=-1", "offset"),
        ("?offset=100000000000000000000", "offset"),  # beyond bigint: was a 500
    ],
)
def test_an_invalid_filter_is_a_400(demo_payer: Any, api: APIClient, query: str, field: str) -> None:
    response = api.get(f"/v1/accounts{query}")

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert field in response.json()["extra"]["fields"]


def test_an_account_is_found_by_its_bespoke_id_or_its_aws_id_with_its_provisioning_history(
    vend: Callable[..., Vended], api: APIClient
) -> None:
    vended = vend()

    by_id = api.get(f"/v1/accounts/{vended.account_id}")
    by_aws_id = api.get(f"/v1/accounts/{vended.aws_account_id}")

    assert by_id.status_code == by_aws_id.status_code == 200
    assert by_id.json() == by_aws_id.json()
    history = by_id.json()["provisioning"]
    assert history["status"] == "succeeded"
    assert [(s["name"], s["state"]) for s in history["steps"]] == [
        ("create_account", "succeeded"),
        ("wait_account", "succeeded"),
        ("iam", "succeeded"),
        ("cloudtrail", "succeeded"),
        ("config", "succeeded"),
        ("verify", "succeeded"),
    ]
    step = history["steps"][3]
    assert step["attempts"] == 1
    assert step["started_at"]
    assert step["finished_at"]
    assert step["outputs"]["trail_name"] == "bespoke-trail"
    assert "message" in step
    assert by_id.json()["commands"] == []


@pytest.mark.parametrize("identifier", ["123456789012", "no-such-account", "00000000-0000-4000-8000-000000000000"])
def test_an_unknown_account_is_a_404(demo_payer: Any, api: APIClient, identifier: str) -> None:
    response = api.get(f"/v1/accounts/{identifier}")

    assert response.status_code == 404
    assert response.json()["code"] == "account_not_found"


def test_reading_accounts_needs_the_accounts_read_scope(
    demo_payer: Any, make_api_client: Callable[..., APIClient]
) -> None:
    response = make_api_client("requests:read").get("/v1/accounts")

    assert response.status_code == 403

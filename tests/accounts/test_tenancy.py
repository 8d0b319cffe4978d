"""Two tenants: accounts are seen and commanded only by clients granted their payer (and
environment). Another tenant's accounts are never listed and answer 404 — by Bespoke id
or AWS id, for reads and for every command."""

from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from apps.accounts.models import AccountCommand, ManagedAccount
from apps.compliance.models import ComplianceSnapshot
from apps.kernel import clock, ids
from tests.support import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_tenants(make_api_client: Callable[..., APIClient]) -> dict[str, object]:
    factories.payer("demo")
    factories.payer("sandbox", management_account_id="555555555555")
    demo_account = factories.account(payer_name="demo")
    sandbox_account = factories.account(payer_name="sandbox")
    scopes = ("accounts:read", "accounts:admin")
    return {
        "demo": make_api_client(*scopes, payers=("demo",)),
        "sandbox": make_api_client(*scopes, payers=("sandbox",)),
        "demo_account": demo_account,
        "sandbox_account": sandbox_account,
    }


def test_each_tenant_lists_only_its_own_accounts(two_tenants: dict[str, object]) -> None:
    demo, sandbox = two_tenants["demo"], two_tenants["sandbox"]
    assert isinstance(demo, APIClient)
    assert isinstance(sandbox, APIClient)
    demo_account = two_tenants["demo_account"]
    assert isinstance(demo_account, ManagedAccount)

    mine = demo.get("/v1/accounts").json()
    asked_for_theirs = demo.get("/v1/accounts", {"payer": "sandbox"})

    assert [a["id"] for a in mine["results"]] == [demo_account.id]
    assert asked_for_theirs.status_code == 400
    assert "payer" in asked_for_theirs.json()["extra"]["fields"]
    assert sandbox.get("/v1/accounts").json()["count"] == 1


@pytest.mark.parametrize("by", ["id", "aws_account_id"])
def test_another_tenants_account_is_404_for_reads_and_every_command(two_tenants: dict[str, object], by: str) -> None:
    demo = two_tenants["demo"]
    theirs = two_tenants["sandbox_account"]
    assert isinstance(demo, APIClient)
    assert isinstance(theirs, ManagedAccount)
    identifier = getattr(theirs, by)

    assert demo.get(f"/v1/accounts/{identifier}").status_code == 404
    assert demo.get(f"/v1/accounts/{identifier}/commands").status_code == 404
    for body in (
        {"command": "reapply", "steps": ["iam"]},
        {"command": "move", "ou": "ou-abcd-12345678"},
        {"command": "close", "confirm": theirs.aws_account_id},
        {"command": "adopt", "environment": "dev", "region": "us-east-1", "payer": "sandbox"},
    ):
        response = demo.post(f"/v1/accounts/{identifier}/commands", body, format="json")
        assert response.status_code in (403, 404), (body, response.json())
    assert AccountCommand.objects.count() == 0


def test_adopting_an_unknown_account_of_a_payer_not_granted_is_403(two_tenants: dict[str, object]) -> None:
    demo = two_tenants["demo"]
    assert isinstance(demo, APIClient)

    response = demo.post(
        "/v1/accounts/210987654321/commands",
        {"command": "adopt", "environment": "dev", "region": "us-east-1", "payer": "sandbox"},
        format="json",
    )

    assert response.status_code == 403
    assert response.json()["code"] == "payer_not_granted"
    assert not ManagedAccount.objects.filter(aws_account_id="210987654321").exists()


def test_a_grant_narrowed_to_environments_hides_the_others(make_api_client: Callable[..., APIClient]) -> None:
    factories.payer("demo")
    dev = factories.account(environment="dev")
    factories.account(environment="prd")
    dev_only = make_api_client("accounts:read", payers=("demo:dev",))

    assert [a["id"] for a in dev_only.get("/v1/accounts").json()["results"]] == [dev.id]


def test_compliance_shows_only_the_tenants_accounts(two_tenants: dict[str, object]) -> None:
    demo = two_tenants["demo"]
    assert isinstance(demo, APIClient)
    for key in ("demo_account", "sandbox_account"):
        account = two_tenants[key]
        assert isinstance(account, ManagedAccount)
        ComplianceSnapshot.objects.create(
            id=ids.new_id(),
            aws_account_id=account.aws_account_id,
            payer=account.payer.name,
            taken_at=clock.now(),
            rules=[],
            compliant=True,
        )

    shown = demo.get("/v1/compliance").json()

    demo_account = two_tenants["demo_account"]
    assert isinstance(demo_account, ManagedAccount)
    assert [s["account_id"] for s in shown["results"]] == [demo_account.aws_account_id]

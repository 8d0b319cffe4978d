"""Accounts Bespoke must never close or move: those it does not manage (found by the
reconciler, unmanaged), the payer's management account, and those the payer marks
protected (log archive, security, ...). Refused with 409 ``account_protected`` and
nothing recorded."""

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.accounts.models import AccountCommand, ManagedAccount
from apps.kernel.models import OutboxMessage
from tests.support import factories

pytestmark = pytest.mark.django_db

MANAGEMENT = "111111111111"
LOG_ARCHIVE = "222222222222"


@pytest.fixture
def admin(make_api_client: Callable[..., APIClient]) -> APIClient:
    factories.payer("demo", management_account_id=MANAGEMENT, protected_account_ids=[LOG_ARCHIVE])
    return make_api_client("accounts:read", "accounts:admin")


def commands_for(aws_account_id: str) -> dict[str, dict[str, Any]]:
    return {
        "close": {"command": "close", "confirm": aws_account_id},
        "move": {"command": "move", "ou": "ou-abcd-12345678"},
    }


@pytest.mark.parametrize("command", ["close", "move"])
@pytest.mark.parametrize(
    "kind",
    ["unmanaged", "discovered", "management", "protected"],
)
def test_close_and_move_never_touch_an_account_bespoke_must_not(admin: APIClient, kind: str, command: str) -> None:
    fields: dict[str, Any] = {
        "unmanaged": {"status": ManagedAccount.Status.UNMANAGED, "source": ManagedAccount.Source.DISCOVERED},
        "discovered": {"status": ManagedAccount.Status.ACTIVE, "source": ManagedAccount.Source.DISCOVERED},
        "management": {"aws_account_id": MANAGEMENT},
        "protected": {"aws_account_id": LOG_ARCHIVE},
    }[kind]
    account = factories.account(**fields)

    response = admin.post(
        f"/v1/accounts/{account.id}/commands", commands_for(account.aws_account_id)[command], format="json"
    )

    assert response.status_code == 409, response.json()
    assert response.json()["code"] == "account_protected"
    assert AccountCommand.objects.count() == 0
    assert not OutboxMessage.objects.filter(type="AccountCommandIssued").exists()
    assert ManagedAccount.objects.get(id=account.id).status == fields.get("status", ManagedAccount.Status.ACTIVE)


def test_a_protected_account_may_still_have_its_baseline_reapplied(admin: APIClient) -> None:
    """Protection is against closing and moving; an operator still keeps its baseline."""
    factories.payer("demo", management_account_id=MANAGEMENT, protected_account_ids=[LOG_ARCHIVE])
    from apps.accounts import api as accounts

    accounts.blueprint_save(payer_name="demo", name="baseline", definition={"steps": [{"name": "iam"}]})
    account = factories.account(aws_account_id=LOG_ARCHIVE)

    response = admin.post(
        f"/v1/accounts/{account.id}/commands", {"command": "reapply", "steps": ["iam"]}, format="json"
    )

    assert response.status_code == 202, response.json()


def test_the_management_account_cannot_be_adopted(admin: APIClient) -> None:
    account = factories.account(
        aws_account_id=MANAGEMENT, status=ManagedAccount.Status.UNMANAGED, source=ManagedAccount.Source.DISCOVERED
    )

    response = admin.post(
        f"/v1/accounts/{account.id}/commands",
        {"command": "adopt", "environment": "dev", "region": "us-east-1"},
        format="json",
    )

    assert response.status_code == 409
    assert response.json()["code"] == "account_protected"
    assert AccountCommand.objects.count() == 0

"""A request's guardrails: its own monthly budget, refused above the payer's maximum (400
naming the field), and a dry run that lists the OU, the SCPs and every hygiene setting."""

from typing import Any
from unittest import mock

import pytest
from rest_framework.test import APIClient

from apps.accounts import api as accounts
from apps.accounts import guardrails
from apps.accounts.models import Payer
from apps.intake.models import AccountRequest
from apps.kernel.models import OutboxMessage
from tests.support import factories
from tests.support.factories import request_body

pytestmark = pytest.mark.django_db

URL = "/v1/account-requests"
GUARDED = {
    "steps": [
        {"name": "ou_placement"},
        {"name": "service_control_policies"},
        {"name": "account_hygiene"},
        {"name": "security_services"},
        {"name": "budget"},
    ]
}


@pytest.fixture
def payer(db: None) -> str:
    factories.payer("demo", management_account_id="123456789012", max_monthly_budget_usd=2000)
    return "demo"


def test_a_budget_above_the_payers_maximum_is_refused_naming_the_field(api: APIClient, payer: str) -> None:
    response = api.post(URL, request_body(monthly_budget_usd=2001), format="json")

    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "validation_error"
    assert body["extra"]["fields"] == {"monthly_budget_usd": ["Payer demo allows at most 2000 USD a month."]}
    assert AccountRequest.objects.count() == 0
    assert OutboxMessage.objects.count() == 0


def test_a_budget_up_to_the_maximum_reaches_the_run(api: APIClient, payer: str) -> None:
    response = api.post(URL, request_body(monthly_budget_usd=2000), format="json")

    assert response.status_code == 202, response.content
    [message] = OutboxMessage.objects.filter(type="AccountRequested")
    assert message.envelope["payload"]["monthly_budget_usd"] == 2000


def test_a_payer_without_a_maximum_takes_any_budget_and_none_is_refused_below_one(api: APIClient, payer: str) -> None:
    Payer.objects.filter(name="demo").update(max_monthly_budget_usd=None)

    assert api.post(URL, request_body(monthly_budget_usd=10**6), format="json").status_code == 202
    refused = api.post(URL, request_body(monthly_budget_usd=0, tags__project_short_name="other"), format="json")
    assert set(refused.json()["extra"]["fields"]) == {"monthly_budget_usd"}


def test_a_dry_run_lists_the_ou_the_scps_and_every_hygiene_setting(api: APIClient, payer: str) -> None:
    guardrails.guardrails_configure(
        payer_name="demo",
        ou_tree=["Workloads/Prod", "Workloads/NonProd"],
        ou_rules={"environments": {"prd": "Workloads/Prod"}, "default": "Workloads/NonProd"},
        baseline_scps_on=["Workloads/Prod"],
    )
    accounts.blueprint_save(payer_name="demo", name="guarded", definition=GUARDED)

    with mock.patch("apps.cloud.api.base_session", side_effect=AssertionError("a dry run called AWS")):
        prd = api.post(f"{URL}?dry_run=true", request_body(environment="prd", monthly_budget_usd=1500), format="json")
        dev = api.post(f"{URL}?dry_run=true", request_body(environment="dev"), format="json")

    creates: dict[str, Any] = {step["name"]: step["creates"] for step in prd.json()["steps"]}
    assert creates["ou_placement"] == ["OU Workloads/Prod (created if missing)"]
    assert creates["service_control_policies"] == [
        f"SCP bespoke-{name} v1 (on Workloads/Prod)"
        for name in ("deny-leave-organization", "deny-root-user", "protect-baseline", "region-deny")
    ]
    assert creates["account_hygiene"] == [
        "alternate contacts: billing, operations, security",
        "S3 Block Public Access for the account",
        "EBS encryption by default in us-east-1",
        "IAM Access Analyzer bespoke-account in us-east-1",
    ]
    assert creates["security_services"] == [
        "GuardDuty in us-east-1, member of the payer's delegated administrator",
        "Security Hub in us-east-1, member of the payer's delegated administrator",
    ]
    assert creates["budget"] == [
        "AWS Budget bespoke-monthly-cost: 1500 USD a month, alerts at 80% and 100% to requestor and technical contact"
    ]
    dev_creates = {step["name"]: step["creates"] for step in dev.json()["steps"]}
    assert dev_creates["ou_placement"] == ["OU Workloads/NonProd (created if missing)"]
    assert dev_creates["service_control_policies"] == []
    assert dev_creates["budget"][0].startswith("AWS Budget bespoke-monthly-cost: 500 USD a month")

"""A vend with the guardrail steps, from the API through the workflow to the emulated
Organization (messages delivered by ``drain()``): the account lands in its OU with the
payer's SCPs attached and every hygiene setting in place; changes made outside Bespoke are
reported by the reconciler and the poller, and a ``reapply`` command puts them back.

(The emulator has no IAM Access Analyzer: the blueprint leaves it off here; the step's own
tests stub it. Config's compliance answers come from botocore's Stubber.)"""

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from rest_framework.test import APIClient

from apps.accounts import api as accounts
from apps.accounts.models import ManagedAccount, Payer
from apps.accounts.steps import organization
from apps.compliance import services as compliance
from apps.kernel.models import OutboxMessage
from tests.conftest import EmulatedAws
from tests.support.bus import drain
from tests.support.factories import request_body

pytestmark = pytest.mark.django_db

GUARDED = {
    "steps": [
        {"name": "ou_placement"},
        {"name": "service_control_policies"},
        {"name": "account_hygiene", "params": {"access_analyzer": False}},
        {"name": "security_services"},
        {"name": "budget"},
        {"name": "cloudtrail"},
    ]
}
TREE = ["Workloads/Prod", "Workloads/NonProd", "Regulated"]
RULES = {"regulated": "Regulated", "environments": {"prd": "Workloads/Prod"}, "default": "Workloads/NonProd"}
CONTACTS = {
    kind: {"name": kind.title(), "title": kind.title(), "email": f"{kind}@example.com", "phone": "+1 555 0100"}
    for kind in ("billing", "operations", "security")
}


@pytest.fixture
def governed_payer(payer_settings: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    Payer.objects.filter(name="demo").update(alternate_contacts=CONTACTS, max_monthly_budget_usd=3000)
    accounts.guardrails_configure(
        payer_name="demo", ou_tree=TREE, ou_rules=RULES, baseline_scps_on=["Workloads", "Regulated"]
    )
    accounts.blueprint_save(payer_name="demo", name="guarded", definition=GUARDED)

    def config_client(session: Any) -> Any:
        client = boto3.client("config", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
        stubber = Stubber(client)
        stubber.add_response("describe_compliance_by_config_rule", {"ComplianceByConfigRules": []})
        stubber.activate()
        return client

    monkeypatch.setattr(compliance, "_config_client", config_client)


def vend(api: APIClient, **overrides: Any) -> dict[str, Any]:
    response = api.post("/v1/account-requests", request_body(**overrides), format="json")
    assert response.status_code == 202, response.json()
    drain()
    status = dict(api.get(f"/v1/account-requests/{response.json()['id']}").json())
    assert status["status"] == "succeeded", status
    return status


def parent_name(aws: EmulatedAws, child: str) -> tuple[str, str]:
    org = aws.client("organizations")
    [parent] = org.list_parents(ChildId=child)["Parents"]
    unit = org.describe_organizational_unit(OrganizationalUnitId=parent["Id"])["OrganizationalUnit"]
    return str(parent["Id"]), str(unit["Name"])


def test_a_vend_is_governed_and_a_reapply_restores_what_changed_outside_bespoke(
    aws: EmulatedAws, api: APIClient, governed_payer: None
) -> None:
    status = vend(api, environment="prd", monthly_budget_usd=2500)

    account_id = status["account"]["id"]
    states = {step["name"]: step["state"] for step in status["steps"]}
    assert states["verify"] == "succeeded"
    prod, name = parent_name(aws, account_id)
    assert name == "Prod"
    workloads, _ = parent_name(aws, prod)
    org = aws.client("organizations")
    attached = {
        p["Name"] for p in org.list_policies_for_target(TargetId=workloads, Filter="SERVICE_CONTROL_POLICY")["Policies"]
    }
    assert attached >= {
        "bespoke-region-deny",
        "bespoke-deny-leave-organization",
        "bespoke-protect-baseline",
        "bespoke-deny-root-user",
    }
    s3control = aws.member_client("s3control", account_id=account_id)
    assert all(s3control.get_public_access_block(AccountId=account_id)["PublicAccessBlockConfiguration"].values())
    assert aws.member_client("ec2", account_id=account_id).get_ebs_encryption_by_default()["EbsEncryptionByDefault"]
    budget = aws.member_client("budgets", account_id=account_id).describe_budget(
        AccountId=account_id, BudgetName="bespoke-monthly-cost"
    )["Budget"]
    assert budget["BudgetLimit"]["Amount"] == "2500"
    assert ManagedAccount.objects.get(aws_account_id=account_id).regions == ["us-east-1"]
    assert compliance.compliance_poll()["non_compliant"] == 0
    assert accounts.accounts_reconcile(payer="demo").scps_drifted == ()

    # Outside Bespoke: the public access block removed, an SCP detached.
    s3control.delete_public_access_block(AccountId=account_id)
    region_deny = {p["Name"]: p["Id"] for p in org.list_policies(Filter="SERVICE_CONTROL_POLICY")["Policies"]}[
        "bespoke-region-deny"
    ]
    org.detach_policy(PolicyId=region_deny, TargetId=workloads)

    assert compliance.compliance_poll()["non_compliant"] == 1
    assert accounts.accounts_reconcile(payer="demo").scps_drifted == ("region-deny",)
    drifted = [
        m.envelope["payload"] for m in OutboxMessage.objects.filter(type="GuardrailDrifted").order_by("sequence")
    ]
    assert [(event["guardrail"], event["subject"]) for event in drifted] == [
        ("s3_block_public_access", account_id),
        ("service_control_policy", "region-deny"),
    ]

    managed = ManagedAccount.objects.get(aws_account_id=account_id)
    issued = api.post(
        f"/v1/accounts/{managed.id}/commands",
        {"command": "reapply", "steps": [step["name"] for step in GUARDED["steps"]]},
        format="json",
    )
    assert issued.status_code == 202, issued.json()
    drain()
    assert api.get(issued.json()["status_url"]).json()["status"] == "succeeded"

    assert all(s3control.get_public_access_block(AccountId=account_id)["PublicAccessBlockConfiguration"].values())
    assert organization.scp_drift(Payer.objects.get(name="demo")) == []
    assert compliance.compliance_poll()["non_compliant"] == 0
    assert parent_name(aws, account_id) == (prod, "Prod")

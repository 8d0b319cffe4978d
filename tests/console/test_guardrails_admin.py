"""The admin shows each payer's OU tree with the SCPs and accounts under each OU, and keeps
SCPs checked and versioned when they are edited there."""

import json

from django.test import Client

from apps.accounts.admin_guardrails import PayerForm
from apps.accounts.guardrails import guardrails_configure
from apps.accounts.models import Payer, ServiceControlPolicy
from tests.console.conftest import make_account, make_payer

DENY_EC2 = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "ec2:*", "Resource": "*"}]}


def _governed() -> Payer:
    payer = make_payer("demo")
    guardrails_configure(
        payer_name="demo",
        ou_tree=["Workloads/Prod", "Regulated"],
        ou_rules={"regulated": "Regulated", "environments": {"prd": "Workloads/Prod"}},
        baseline_scps_on=["Workloads"],
    )
    Payer.objects.filter(pk=payer.pk).update(ou_ids={"Root": "r-1", "Workloads": "ou-w", "Workloads/Prod": "ou-wp"})
    account = make_account(payer=payer, environment="prd")
    account.aws_account_id, account.ou_id = "123456789099", "ou-wp"
    account.save()
    return payer


def test_a_payers_page_shows_its_ou_tree_with_scps_and_accounts(staff: Client) -> None:
    payer = _governed()

    html = staff.get(f"/admin/accounts/payer/{payer.pk}/change/").content.decode()

    assert "OU tree, SCPs and accounts" in html
    assert "<td>Workloads/Prod</td><td>ou-wp</td><td>prd</td><td>-</td><td>123456789099</td>" in html
    assert "<td>Workloads</td><td>ou-w</td><td>-</td><td>bespoke-deny-leave-organization v1" in html
    assert "<td>Regulated</td><td>(not created yet)</td><td>regulated</td>" in html


def _scp_form(payer: Payer, document: object, targets: object) -> dict[str, object]:
    return {
        "payer": payer.pk,
        "name": "no-ec2",
        "description": "",
        "document": json.dumps(document),
        "target_ous": json.dumps(targets),
        "active": "on",
        "versions-TOTAL_FORMS": "0",
        "versions-INITIAL_FORMS": "0",
    }


def test_an_scp_that_organizations_would_refuse_is_not_saved(staff: Client) -> None:
    payer = _governed()

    no_statement = staff.post(
        "/admin/accounts/servicecontrolpolicy/add/", _scp_form(payer, {"Version": "2012-10-17"}, ["Root"])
    )
    unknown_ou = staff.post("/admin/accounts/servicecontrolpolicy/add/", _scp_form(payer, DENY_EC2, ["Sandbox"]))

    assert no_statement.status_code == unknown_ou.status_code == 200
    assert "non-empty" in no_statement.content.decode()
    assert "A list of OUs of the payer&#x27;s tree" in unknown_ou.content.decode()
    assert not ServiceControlPolicy.objects.filter(name="no-ec2").exists()


def test_an_scp_saved_in_the_admin_is_versioned(staff: Client) -> None:
    payer = _governed()

    created = staff.post("/admin/accounts/servicecontrolpolicy/add/", _scp_form(payer, DENY_EC2, ["Workloads/Prod"]))
    policy = ServiceControlPolicy.objects.get(name="no-ec2")
    changed = {**DENY_EC2, "Statement": [{**DENY_EC2["Statement"][0], "Action": "ec2:RunInstances"}]}  # type: ignore[dict-item]
    form = _scp_form(payer, changed, ["Workloads/Prod"])
    form["versions-INITIAL_FORMS"] = form["versions-TOTAL_FORMS"] = "0"
    edited = staff.post(f"/admin/accounts/servicecontrolpolicy/{policy.pk}/change/", form)

    assert (created.status_code, edited.status_code) == (302, 302), edited.content.decode()[:2000]
    policy.refresh_from_db()
    assert (policy.version, policy.versions.count()) == (2, 2)
    assert policy.document["Statement"][0]["Action"] == "ec2:RunInstances"


def test_a_payers_ou_rule_must_name_ous_of_its_tree(db: None) -> None:
    payer = make_payer("demo")
    fields = {
        field: getattr(payer, field)
        for field in ("name", "management_account_id", "member_role_name", "email_division", "email_domain")
    }
    fields |= {"saml_provider_name": "bespoke-idp", "closures_per_30_days": 10, "active": True}
    base = {
        **fields,
        "allowed_environments": '["dev"]',
        "allowed_regions": '["us-east-1"]',
        "protected_account_ids": "[]",
        "alternate_contacts": "{}",
    }

    wrong = PayerForm(
        data={**base, "ou_tree": '["Workloads/Prod"]', "ou_rules": '{"default": "Sandbox"}'}, instance=payer
    )
    right = PayerForm(
        data={**base, "ou_tree": '["/Workloads/Prod/"]', "ou_rules": '{"default": "Workloads"}'}, instance=payer
    )

    assert "Sandbox" in str(wrong.errors["ou_rules"])
    assert right.is_valid(), right.errors
    assert right.cleaned_data["ou_tree"] == ["Workloads/Prod"]

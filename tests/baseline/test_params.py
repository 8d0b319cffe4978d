"""Reading a blueprint's baseline parameters: defaults, aliases, roles and Config rules,
and what counts as a SAML trust — no AWS involved."""

from typing import Any

import pytest

from apps.baseline import api as baseline
from apps.baseline.contracts import ConfigRuleSpec
from apps.baseline.steps import config as config_step
from apps.baseline.steps import guardrail_params
from apps.baseline.steps import iam as iam_step
from apps.baseline.steps import params as baseline_params
from apps.kernel import catalog
from apps.kernel.errors import PermanentError
from apps.kernel.steptools import merged_params

PROVIDER = "arn:aws:iam::210987654321:saml-provider/bespoke-idp"


@pytest.mark.parametrize(
    ("account_name", "alias"),
    [
        ("demo-msfp-dev", "demo-msfp-dev"),
        ("My Super_Project!! (prd)", "my-super-project-prd"),
        ("--Team  Blue--", "team-blue"),
        ("a" * 62 + "-b", "a" * 62),
        ("x" * 80, "x" * 63),
    ],
)
def test_the_default_alias_is_the_account_name_made_valid(account_name: str, alias: str) -> None:
    assert baseline_params.desired_alias(True, account_name=account_name) == alias


def test_an_alias_can_be_given_or_left_alone() -> None:
    assert baseline_params.desired_alias("finance-prod", account_name="ignored") == "finance-prod"
    assert baseline_params.desired_alias(False, account_name="ignored") is None


@pytest.mark.parametrize("setting", ["Finance", "fi--nance", "-finance", "ab", True])
def test_an_alias_aws_would_refuse_fails_for_good(setting: Any) -> None:
    with pytest.raises(PermanentError) as raised:
        baseline_params.desired_alias(setting, account_name="?!")

    assert raised.value.code == "invalid_account_alias"


def test_blueprint_keys_replace_defaults_whole_and_leave_the_defaults_untouched() -> None:
    params = merged_params("iam", {"roles": [{"name": "only"}]}, baseline_params.IAM_DEFAULT_PARAMS)

    assert params["roles"] == [{"name": "only"}]
    assert params["password_policy"]["MinimumPasswordLength"] == 14
    assert len(catalog.default_params("iam")["roles"]) == 4
    params["password_policy"]["MinimumPasswordLength"] = 6
    assert catalog.default_params("iam")["password_policy"]["MinimumPasswordLength"] == 14


def test_every_step_documents_its_defaults() -> None:
    guardrails = set(guardrail_params.DEFAULT_PARAMS)
    assert set(baseline_params.DEFAULT_PARAMS) | guardrails == set(catalog.runners("baseline"))
    assert catalog.default_params("support")["enabled"] is True
    assert catalog.default_params("cloudtrail")["name"] == "bespoke-trail"


def test_the_default_roles_are_admin_read_only_network_and_security_audit() -> None:
    roles = baseline_params.role_specs(catalog.default_params("iam"))

    assert [role.name for role in roles] == [
        "bespoke-admin",
        "bespoke-read-only",
        "bespoke-network",
        "bespoke-security-audit",
    ]
    assert all(role.inline_policies or role.managed_policies for role in roles)


@pytest.mark.parametrize(
    "roles",
    [
        [{"name": "a"}, {"name": "a"}],
        [{"description": "no name"}],
        [{"name": "a", "managed_policies": [{"name": "p"}]}],
        [
            {"name": "a", "managed_policies": [{"name": "p", "document": {"Statement": []}}]},
            {"name": "b", "managed_policies": [{"name": "p", "document": {"Statement": [{}]}}]},
        ],
        "bespoke-admin",
    ],
    ids=["duplicate-role", "no-name", "policy-without-document", "one-policy-two-documents", "not-a-list"],
)
def test_roles_the_step_cannot_build_fail_for_good(roles: Any) -> None:
    with pytest.raises(PermanentError) as raised:
        baseline_params.role_specs({"roles": roles})

    assert raised.value.code == "invalid_step_params"


def test_regulated_rules_are_added_for_a_regulated_account_each_name_once() -> None:
    params = {
        "rules": ["CLOUD_TRAIL_ENABLED"],
        "regulated_rules": [
            "CLOUD_TRAIL_ENABLED",
            {"identifier": "ACCESS_KEYS_ROTATED", "name": "keys-rotated", "input_parameters": {"maxAccessKeyAge": 45}},
        ],
    }

    assert [rule.name for rule in baseline_params.config_rule_specs(params, regulated=False)] == [
        "bespoke-cloud-trail-enabled"
    ]
    assert baseline_params.config_rule_specs(params, regulated=True) == [
        ConfigRuleSpec(identifier="CLOUD_TRAIL_ENABLED", name="bespoke-cloud-trail-enabled"),
        ConfigRuleSpec(
            identifier="ACCESS_KEYS_ROTATED", name="keys-rotated", input_parameters={"maxAccessKeyAge": "45"}
        ),
    ]


def test_the_config_role_is_the_service_linked_one_in_the_accounts_partition() -> None:
    assert config_step.config_role_arn(account_id="210987654321", region="us-east-1") == (
        "arn:aws:iam::210987654321:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig"
    )
    assert config_step.config_role_arn(account_id="210987654321", region="cn-north-1").startswith("arn:aws-cn:iam::")


def test_the_trust_policy_the_roles_get_is_a_saml_trust() -> None:
    assert baseline.trusts_saml(iam_step.saml_trust_policy(PROVIDER), PROVIDER)


@pytest.mark.parametrize(
    "change",
    [
        {"Effect": "Deny"},
        {"Action": "sts:AssumeRole"},
        {"Principal": {"Federated": "arn:aws:iam::210987654321:saml-provider/other"}},
        {"Principal": "*"},
        {"Condition": {"StringEquals": {"SAML:aud": "https://example.com/saml"}}},
        {"Condition": {}},
    ],
    ids=["deny", "not-saml", "other-provider", "anyone", "other-audience", "no-audience"],
)
def test_a_trust_policy_that_differs_in_any_part_is_not_a_saml_trust(change: dict[str, Any]) -> None:
    document = iam_step.saml_trust_policy(PROVIDER)
    document["Statement"][0].update(change)

    assert not baseline.trusts_saml(document, PROVIDER)

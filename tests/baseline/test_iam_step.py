"""The iam step against the emulated AWS: SAML provider, federated roles and their
policies, alias and password policy in the member account (and nowhere else), re-runs
that converge without creating anything."""

from collections.abc import Callable
from typing import Any

import pytest
from botocore.stub import Stubber

from apps.baseline.steps import aws as baseline_aws
from apps.baseline.steps import iam as iam_step
from apps.cloud import api as cloud
from apps.kernel.errors import PermanentError
from apps.kernel.steps import StepContext
from tests.conftest import EmulatedAws

pytestmark = pytest.mark.django_db

MakeContext = Callable[..., StepContext]

DEFAULT_ROLES = ("bespoke-admin", "bespoke-read-only", "bespoke-network", "bespoke-security-audit")

ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
READ_S3 = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}]}
DENY_TRAIL_STOP = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Deny", "Action": "cloudtrail:StopLogging", "Resource": "*"}],
}

ONE_ROLE: dict[str, Any] = {
    "roles": [
        {
            "name": "bespoke-admin",
            "description": "Admins",
            "max_session_duration": 7200,
            "inline_policies": {"admin": ALLOW_ALL},
            "managed_policies": [{"name": "bespoke-guard", "document": DENY_TRAIL_STOP}],
        }
    ],
    "password_policy": {"MinimumPasswordLength": 20, "RequireSymbols": True},
    "account_alias": True,
}


def saml_trust(provider_arn: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithSAML",
                "Condition": {"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}},
            }
        ],
    }


def iam_details(iam: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    details = iam.get_account_authorization_details(Filter=["Role", "LocalManagedPolicy"])
    return (
        {role["RoleName"]: role for role in details["RoleDetailList"]},
        {policy["Arn"].rsplit("/", 1)[-1]: policy for policy in details["Policies"]},
    )


def snapshot(iam: Any) -> dict[str, Any]:
    """Everything a re-run could create or replace, with the ids AWS gave it."""
    roles, policies = iam_details(iam)
    return {
        "roles": {name: (role["RoleId"], role["Arn"]) for name, role in roles.items()},
        "policies": {
            name: (policy["Arn"], policy["DefaultVersionId"], len(policy["PolicyVersionList"]))
            for name, policy in policies.items()
        },
        "providers": [p["Arn"] for p in iam.list_saml_providers()["SAMLProviderList"]],
        "aliases": iam.list_account_aliases()["AccountAliases"],
    }


def test_the_default_roles_are_made_in_the_member_account_and_trust_only_the_saml_provider(
    aws: EmulatedAws, step_context: MakeContext, member_account: str, payer_settings: dict[str, str]
) -> None:
    outputs = iam_step.iam(step_context("iam"))

    iam = aws.member_client("iam", account_id=member_account)
    provider_arn = f"arn:aws:iam::{member_account}:saml-provider/bespoke-idp"
    assert outputs == {
        "account_alias": "demo-msfp-dev",
        "saml_provider_arn": provider_arn,
        "role_arns": {name: f"arn:aws:iam::{member_account}:role/{name}" for name in DEFAULT_ROLES},
    }
    provider = iam.get_saml_provider(SAMLProviderArn=provider_arn)
    assert provider["SAMLMetadataDocument"] == payer_settings["saml_metadata_document"]
    roles, policies = iam_details(iam)
    assert set(DEFAULT_ROLES) <= roles.keys()
    for name in DEFAULT_ROLES:
        assert roles[name]["AssumeRolePolicyDocument"] == saml_trust(provider_arn), name
    assert sorted(p["PolicyName"] for p in roles["bespoke-admin"]["RolePolicyList"]) == [
        "bespoke-administrator",
        "bespoke-stay-in-organization",
    ]
    assert {p["PolicyName"] for p in roles["bespoke-network"]["RolePolicyList"]} == {"bespoke-network"}
    attached = {name: {p["PolicyName"] for p in roles[name]["AttachedManagedPolicies"]} for name in DEFAULT_ROLES}
    assert attached == {
        "bespoke-admin": {"bespoke-baseline-protection"},
        "bespoke-read-only": {"bespoke-read-only"},
        "bespoke-network": {"bespoke-baseline-protection"},
        "bespoke-security-audit": {"bespoke-security-audit"},
    }
    assert set(policies) == {"bespoke-baseline-protection", "bespoke-read-only", "bespoke-security-audit"}
    assert {"Key": "bespoke:request-id", "Value": "11111111-1111-4111-8111-111111111111"} in roles["bespoke-admin"][
        "Tags"
    ]
    assert iam.list_account_aliases()["AccountAliases"] == ["demo-msfp-dev"]
    password_policy = iam.get_account_password_policy()["PasswordPolicy"]
    assert (password_policy["MinimumPasswordLength"], password_policy["PasswordReusePrevention"]) == (14, 24)

    management = aws.client("iam")
    assert not {role["RoleName"] for role in management.list_roles()["Roles"]} & set(DEFAULT_ROLES)
    assert management.list_saml_providers()["SAMLProviderList"] == []
    assert management.list_policies(Scope="Local")["Policies"] == []
    assert management.list_account_aliases()["AccountAliases"] == []


def test_running_it_again_creates_nothing_new(aws: EmulatedAws, step_context: MakeContext, member_account: str) -> None:
    iam = aws.member_client("iam", account_id=member_account)
    first = iam_step.iam(step_context("iam"))
    before = snapshot(iam)

    second = iam_step.iam(step_context("iam", attempt=2))

    assert second == first
    assert snapshot(iam) == before
    assert len(before["roles"]) == len(DEFAULT_ROLES) + 1  # and the role Organizations made


def test_a_changed_blueprint_is_applied_in_place(
    aws: EmulatedAws, step_context: MakeContext, member_account: str
) -> None:
    iam = aws.member_client("iam", account_id=member_account)
    first = iam_step.iam(step_context("iam", step_params=ONE_ROLE))
    role_id = iam.get_role(RoleName="bespoke-admin")["Role"]["RoleId"]
    # Someone widened the trust policy by hand; the blueprint changed too.
    iam.update_assume_role_policy(
        RoleName="bespoke-admin",
        PolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},'
        '"Action":"sts:AssumeRole"}]}',
    )
    changed = {
        **ONE_ROLE,
        "roles": [
            {
                "name": "bespoke-admin",
                "description": "Administrators",
                "max_session_duration": 3600,
                "inline_policies": {"read-s3": READ_S3},
                "managed_policies": [{"name": "bespoke-guard", "document": ALLOW_ALL}],
            }
        ],
    }

    second = iam_step.iam(step_context("iam", step_params=changed, attempt=2))

    assert second == first
    role = iam.get_role(RoleName="bespoke-admin")["Role"]
    assert (role["RoleId"], role["Description"], role["MaxSessionDuration"]) == (role_id, "Administrators", 3600)
    assert role["AssumeRolePolicyDocument"] == saml_trust(first["saml_provider_arn"])
    assert iam.list_role_policies(RoleName="bespoke-admin")["PolicyNames"] == ["read-s3"]
    [policy] = iam.list_policies(Scope="Local")["Policies"]
    assert policy["DefaultVersionId"] == "v2"
    version = iam.get_policy_version(PolicyArn=policy["Arn"], VersionId="v2")["PolicyVersion"]
    assert version["Document"] == ALLOW_ALL
    attached = iam.list_attached_role_policies(RoleName="bespoke-admin")["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [policy["Arn"]]
    assert len(iam.list_saml_providers()["SAMLProviderList"]) == 1


def test_a_managed_policy_dropped_from_a_role_is_detached_but_not_deleted(
    aws: EmulatedAws, step_context: MakeContext, member_account: str
) -> None:
    iam_step.iam(step_context("iam", step_params=ONE_ROLE))
    without = {**ONE_ROLE, "roles": [{**ONE_ROLE["roles"][0], "managed_policies": []}]}

    iam_step.iam(step_context("iam", step_params=without, attempt=2))

    iam = aws.member_client("iam", account_id=member_account)
    assert iam.list_attached_role_policies(RoleName="bespoke-admin")["AttachedPolicies"] == []
    assert [p["PolicyName"] for p in iam.list_policies(Scope="Local")["Policies"]] == ["bespoke-guard"]


NO_ROLES: dict[str, Any] = {"roles": [], "password_policy": None}


def test_an_existing_different_alias_is_replaced(
    aws: EmulatedAws, step_context: MakeContext, member_account: str
) -> None:
    iam = aws.member_client("iam", account_id=member_account)
    iam.create_account_alias(AccountAlias="old-alias")

    outputs = iam_step.iam(step_context("iam", step_params={**NO_ROLES, "account_alias": True}))

    assert outputs["account_alias"] == "demo-msfp-dev"
    assert iam.list_account_aliases()["AccountAliases"] == ["demo-msfp-dev"]


def test_the_alias_comes_from_the_account_name_or_the_blueprint_or_is_left_alone(
    aws: EmulatedAws, step_context: MakeContext, member_account: str
) -> None:
    iam = aws.member_client("iam", account_id=member_account)

    derived = iam_step.iam(step_context("iam", step_params=NO_ROLES, account_name="Team_Blue Prod!"))
    assert derived["account_alias"] == "team-blue-prod"
    named = iam_step.iam(step_context("iam", step_params={**NO_ROLES, "account_alias": "acme-blue"}))
    assert named["account_alias"] == "acme-blue"
    left = iam_step.iam(step_context("iam", step_params={**NO_ROLES, "account_alias": False}))

    assert left["account_alias"] is None
    assert iam.list_account_aliases()["AccountAliases"] == ["acme-blue"]


def test_without_saml_metadata_it_fails_for_good_and_makes_nothing(
    aws: EmulatedAws, step_context: MakeContext, member_account: str, payer_settings: dict[str, str]
) -> None:
    context = step_context("iam", payer_settings={**payer_settings, "saml_metadata_document": ""})

    with pytest.raises(PermanentError) as raised:
        iam_step.iam(context)

    assert raised.value.code == "missing_saml_metadata"
    iam = aws.member_client("iam", account_id=member_account)
    assert iam.list_saml_providers()["SAMLProviderList"] == []
    assert [r["RoleName"] for r in iam.list_roles()["Roles"]] == ["OrganizationAccountAccessRole"]


def test_an_alias_already_in_place_is_neither_deleted_nor_created_again(
    step_context: MakeContext, member_account: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The emulator lets an account "create" the alias it has; AWS does not: stub the answers.
    iam = cloud.client("iam", region="us-east-1")
    monkeypatch.setattr(cloud, "member_session_of", lambda inputs: None)
    monkeypatch.setattr(baseline_aws, "client", lambda service, **kwargs: iam)
    provider_arn = f"arn:aws:iam::{member_account}:saml-provider/bespoke-idp"
    with Stubber(iam) as stubber:
        stubber.add_response("list_saml_providers", {"SAMLProviderList": [{"Arn": provider_arn}]})
        stubber.add_response("update_saml_provider", {"SAMLProviderArn": provider_arn})
        stubber.add_response("get_account_authorization_details", {"RoleDetailList": [], "Policies": []})
        stubber.add_response("list_account_aliases", {"AccountAliases": ["demo-msfp-dev"], "IsTruncated": False})

        outputs = iam_step.iam(step_context("iam", step_params=NO_ROLES))

        stubber.assert_no_pending_responses()
    assert outputs == {"account_alias": "demo-msfp-dev", "saml_provider_arn": provider_arn, "role_arns": {}}

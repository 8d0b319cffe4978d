"""read_back: what the verify step sees of a member account's baseline — nothing wrong
after the steps ran, one precise sentence per thing missing or switched off."""

from collections.abc import Callable
from typing import Any

import pytest

from apps.baseline import api as baseline
from apps.kernel import catalog
from apps.kernel.steps import StepContext
from tests.conftest import EmulatedAws

pytestmark = pytest.mark.django_db

MakeContext = Callable[..., StepContext]

CONFIG: dict[str, Any] = {"rules": ["CLOUD_TRAIL_ENABLED"], "regulated_rules": ["ENCRYPTED_VOLUMES"]}


def read_back(payer_settings: dict[str, str], account_id: str, expectations: dict[str, Any]) -> list[str]:
    return baseline.read_back(
        payer_settings=payer_settings, account_id=account_id, expectations=expectations, region="us-east-1"
    )


# The default blueprint's first two roles (admin, read-only): fewer calls, same kinds of policy.
IAM: dict[str, Any] = {"roles": catalog.default_params("iam")["roles"][:2]}


def run_steps(step_context: MakeContext, params: dict[str, Any]) -> dict[str, Any]:
    """Run every baseline step (the guardrail steps have their own tests) for a regulated
    account; the expectations verify would pass."""
    for step in ("iam", "cloudtrail", "config", "support"):
        catalog.runner(step)(step_context(step, step_params=params.get(step), regulated=True))
    return {"iam": params.get("iam"), "cloudtrail": params.get("cloudtrail"), "config": {**CONFIG, "regulated": True}}


@pytest.fixture
def baselined(step_context: MakeContext) -> dict[str, Any]:
    """The member account after every baseline step ran; the expectations that describe it."""
    return run_steps(step_context, {"iam": IAM, "config": CONFIG})


def test_nothing_is_wrong_after_every_step_ran_with_the_default_blueprint(
    step_context: MakeContext, payer_settings: dict[str, str], member_account: str
) -> None:
    expectations = run_steps(step_context, {"config": CONFIG})

    assert read_back(payer_settings, member_account, expectations) == []


def test_the_baseline_declares_its_steps() -> None:
    assert tuple(catalog.runners("baseline")) == (
        "iam",
        "cloudtrail",
        "config",
        "support",
        "account_hygiene",
        "security_services",
        "budget",
    )
    assert [catalog.get(name).context for name in ("iam", "support")] == ["baseline", "baseline"]


def test_everything_missing_is_named_in_an_account_never_baselined(
    aws: EmulatedAws, payer_settings: dict[str, str], member_account: str
) -> None:
    expectations = {
        "iam": {"roles": [{"name": "bespoke-admin"}], "password_policy": {"MinimumPasswordLength": 14}},
        "cloudtrail": {},
        "config": CONFIG,
    }

    assert read_back(payer_settings, member_account, expectations) == [
        "SAML provider 'bespoke-idp' is missing.",
        "IAM role 'bespoke-admin' is missing.",
        "The account has no alias.",
        "The account has no IAM password policy.",
        "CloudTrail trail 'bespoke-trail' is missing.",
        "No AWS Config recorder exists in us-east-1.",
        "No AWS Config delivery channel exists in us-east-1.",
        "AWS Config rule 'bespoke-cloud-trail-enabled' (CLOUD_TRAIL_ENABLED) is missing.",
    ]


def test_a_step_left_out_of_the_blueprint_is_not_checked(
    aws: EmulatedAws, payer_settings: dict[str, str], member_account: str
) -> None:
    assert read_back(payer_settings, member_account, {"cloudtrail": {"name": "audit"}}) == [
        "CloudTrail trail 'audit' is missing."
    ]
    assert read_back(payer_settings, member_account, {"support": {}}) == []


def test_a_deleted_role_is_reported(
    aws: EmulatedAws, baselined: dict[str, Any], payer_settings: dict[str, str], member_account: str
) -> None:
    iam = aws.member_client("iam", account_id=member_account)
    iam.detach_role_policy(
        RoleName="bespoke-read-only", PolicyArn=f"arn:aws:iam::{member_account}:policy/bespoke-read-only"
    )
    iam.delete_role(RoleName="bespoke-read-only")

    assert read_back(payer_settings, member_account, baselined) == ["IAM role 'bespoke-read-only' is missing."]


def test_a_role_that_no_longer_trusts_the_identity_provider_or_lost_a_policy_is_reported(
    aws: EmulatedAws, baselined: dict[str, Any], payer_settings: dict[str, str], member_account: str
) -> None:
    iam = aws.member_client("iam", account_id=member_account)
    iam.update_assume_role_policy(
        RoleName="bespoke-admin",
        PolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},'
        '"Action":"sts:AssumeRole"}]}',
    )
    policy_arn = f"arn:aws:iam::{member_account}:policy/bespoke-read-only"
    iam.detach_role_policy(RoleName="bespoke-read-only", PolicyArn=policy_arn)

    assert read_back(payer_settings, member_account, baselined) == [
        f"IAM role 'bespoke-admin' does not trust SAML provider arn:aws:iam::{member_account}:saml-provider/bespoke-idp"
        " (sts:AssumeRoleWithSAML with SAML:aud https://signin.aws.amazon.com/saml).",
        "IAM role 'bespoke-read-only' lacks its managed policy 'bespoke-read-only'.",
    ]


def test_a_trail_that_stopped_logging_is_reported(
    aws: EmulatedAws, baselined: dict[str, Any], payer_settings: dict[str, str], member_account: str
) -> None:
    aws.member_client("cloudtrail", account_id=member_account).stop_logging(Name="bespoke-trail")

    assert read_back(payer_settings, member_account, baselined) == ["CloudTrail trail 'bespoke-trail' is not logging."]


def test_a_stopped_recorder_and_a_deleted_rule_are_reported(
    aws: EmulatedAws, baselined: dict[str, Any], payer_settings: dict[str, str], member_account: str
) -> None:
    config = aws.member_client("config", account_id=member_account)
    config.stop_configuration_recorder(ConfigurationRecorderName="default")
    config.delete_config_rule(ConfigRuleName="bespoke-encrypted-volumes")

    assert read_back(payer_settings, member_account, baselined) == [
        "AWS Config recorder 'default' is not recording.",
        "AWS Config rule 'bespoke-encrypted-volumes' (ENCRYPTED_VOLUMES) is missing.",
    ]


def test_a_weakened_password_policy_and_a_changed_alias_are_reported(
    aws: EmulatedAws, baselined: dict[str, Any], payer_settings: dict[str, str], member_account: str
) -> None:
    iam = aws.member_client("iam", account_id=member_account)
    iam.update_account_password_policy(MinimumPasswordLength=8)
    expectations = {
        "iam": {"roles": [], "account_alias": "finance-prod", "password_policy": {"MinimumPasswordLength": 14}}
    }

    assert read_back(payer_settings, member_account, expectations) == [
        "The account alias is 'demo-msfp-dev', not 'finance-prod'.",
        "The password policy's MinimumPasswordLength is 8, not 14.",
    ]

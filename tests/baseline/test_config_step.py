"""The config step against the emulated AWS: recorder, delivery channel to the central
bucket, recording, and the blueprint's managed rules in the member account only."""

from collections.abc import Callable
from typing import Any

import pytest

from apps.baseline.steps import config as config_step
from apps.kernel.steps import StepContext
from tests.conftest import EmulatedAws

pytestmark = pytest.mark.django_db

MakeContext = Callable[..., StepContext]

SMALL: dict[str, Any] = {
    "rules": ["CLOUD_TRAIL_ENABLED", "S3_BUCKET_PUBLIC_READ_PROHIBITED"],
    "regulated_rules": [
        "ENCRYPTED_VOLUMES",
        {"identifier": "ACCESS_KEYS_ROTATED", "input_parameters": {"maxAccessKeyAge": "45"}},
    ],
}


def rules_by_name(config: Any) -> dict[str, Any]:
    return {rule["ConfigRuleName"]: rule for rule in config.describe_config_rules()["ConfigRules"]}


def test_the_default_blueprint_records_everything_delivers_centrally_and_checks_its_rules(
    aws: EmulatedAws, step_context: MakeContext, member_account: str
) -> None:
    outputs = config_step.config(step_context("config"))

    expected_rules = [
        "bespoke-cloud-trail-enabled",
        "bespoke-multi-region-cloud-trail-enabled",
        "bespoke-iam-password-policy",
        "bespoke-iam-root-access-key-check",
        "bespoke-root-account-mfa-enabled",
        "bespoke-s3-bucket-public-read-prohibited",
        "bespoke-s3-bucket-public-write-prohibited",
        "bespoke-incoming-ssh-disabled",
        "bespoke-vpc-flow-logs-enabled",
    ]
    assert outputs == {
        "recorder_name": "default",
        "delivery_channel_name": "default",
        "config_rules": expected_rules,
        "config_regions": ["us-east-1"],
    }
    config = aws.member_client("config", account_id=member_account)
    [recorder] = config.describe_configuration_recorders()["ConfigurationRecorders"]
    assert recorder["roleARN"] == (
        f"arn:aws:iam::{member_account}:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig"
    )
    assert (recorder["recordingGroup"]["allSupported"], recorder["recordingGroup"]["includeGlobalResourceTypes"]) == (
        True,
        True,
    )
    [status] = config.describe_configuration_recorder_status()["ConfigurationRecordersStatus"]
    assert status["recording"] is True
    [channel] = config.describe_delivery_channels()["DeliveryChannels"]
    assert (channel["name"], channel["s3BucketName"]) == ("default", "bespoke-test-log-archive")
    rules = rules_by_name(config)
    assert sorted(rules) == sorted(expected_rules)
    assert rules["bespoke-cloud-trail-enabled"]["Source"] == {"Owner": "AWS", "SourceIdentifier": "CLOUD_TRAIL_ENABLED"}
    service_roles = aws.member_client("iam", account_id=member_account).list_roles(PathPrefix="/aws-service-role/")
    assert [role["Path"] for role in service_roles["Roles"]] == ["/aws-service-role/config.amazonaws.com/"]

    management = aws.client("config")
    assert management.describe_configuration_recorders()["ConfigurationRecorders"] == []
    assert management.describe_delivery_channels()["DeliveryChannels"] == []
    assert management.describe_config_rules()["ConfigRules"] == []


def test_a_regulated_account_gets_the_regulated_rules_too(
    aws: EmulatedAws, step_context: MakeContext, member_account: str
) -> None:
    outputs = config_step.config(step_context("config", step_params=SMALL, regulated=True))

    assert outputs["config_rules"] == [
        "bespoke-cloud-trail-enabled",
        "bespoke-s3-bucket-public-read-prohibited",
        "bespoke-encrypted-volumes",
        "bespoke-access-keys-rotated",
    ]
    rules = rules_by_name(aws.member_client("config", account_id=member_account))
    assert sorted(rules) == sorted(outputs["config_rules"])
    assert rules["bespoke-access-keys-rotated"]["InputParameters"] == '{"maxAccessKeyAge": "45"}'


def test_an_unregulated_account_gets_only_the_base_rules(
    aws: EmulatedAws, step_context: MakeContext, member_account: str
) -> None:
    outputs = config_step.config(step_context("config", step_params=SMALL, regulated=False))

    assert outputs["config_rules"] == ["bespoke-cloud-trail-enabled", "bespoke-s3-bucket-public-read-prohibited"]
    assert sorted(rules_by_name(aws.member_client("config", account_id=member_account))) == sorted(
        outputs["config_rules"]
    )


def test_running_it_again_creates_nothing_new(aws: EmulatedAws, step_context: MakeContext, member_account: str) -> None:
    config = aws.member_client("config", account_id=member_account)
    first = config_step.config(step_context("config", step_params=SMALL, regulated=True))
    rule_ids = {name: rule["ConfigRuleId"] for name, rule in rules_by_name(config).items()}
    config.stop_configuration_recorder(ConfigurationRecorderName="default")

    second = config_step.config(step_context("config", step_params=SMALL, regulated=True, attempt=2))

    assert second == first
    assert {name: rule["ConfigRuleId"] for name, rule in rules_by_name(config).items()} == rule_ids
    assert len(config.describe_configuration_recorders()["ConfigurationRecorders"]) == 1
    assert len(config.describe_delivery_channels()["DeliveryChannels"]) == 1
    [status] = config.describe_configuration_recorder_status()["ConfigurationRecordersStatus"]
    assert status["recording"] is True
    iam = aws.member_client("iam", account_id=member_account)
    assert len(iam.list_roles(PathPrefix="/aws-service-role/")["Roles"]) == 1


def test_a_recorder_and_channel_that_already_exist_are_adopted_under_their_names(
    aws: EmulatedAws, step_context: MakeContext, member_account: str
) -> None:
    config = aws.member_client("config", account_id=member_account)
    config.put_configuration_recorder(
        ConfigurationRecorder={"name": "landing-zone", "roleARN": "arn:aws:iam::123456789012:role/x"}
    )
    config.put_delivery_channel(DeliveryChannel={"name": "landing-zone", "s3BucketName": "bespoke-test-log-archive"})

    outputs = config_step.config(step_context("config", step_params={**SMALL, "create_service_linked_role": False}))

    assert (outputs["recorder_name"], outputs["delivery_channel_name"]) == ("landing-zone", "landing-zone")
    [recorder] = config.describe_configuration_recorders()["ConfigurationRecorders"]
    assert recorder["recordingGroup"]["allSupported"] is True
    assert recorder["roleARN"].endswith(":role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig")
    [status] = config.describe_configuration_recorder_status()["ConfigurationRecordersStatus"]
    assert (status["name"], status["recording"]) == ("landing-zone", True)
    iam = aws.member_client("iam", account_id=member_account)
    assert iam.list_roles(PathPrefix="/aws-service-role/")["Roles"] == []

"""The cloudtrail step against the emulated AWS: one multi-region, validated trail in the
member account, delivering to the payer's central bucket in the management account."""

from collections.abc import Callable
from typing import Any

import pytest

from apps.baseline.steps import cloudtrail as cloudtrail_step
from apps.kernel.errors import PermanentError
from apps.kernel.steps import StepContext
from tests.conftest import EmulatedAws

pytestmark = pytest.mark.django_db

MakeContext = Callable[..., StepContext]


def member_client_in(aws: EmulatedAws, service: str, *, account_id: str, region: str) -> Any:
    """``aws.member_client`` in another region than the fixture's."""
    credentials = aws.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole", RoleSessionName="test"
    )["Credentials"]
    return aws.client(
        service,
        region=region,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def test_a_logging_multi_region_trail_delivers_to_the_central_bucket_from_the_member_account(
    aws: EmulatedAws, step_context: MakeContext, member_account: str
) -> None:
    outputs = cloudtrail_step.cloudtrail(step_context("cloudtrail"))

    arn = f"arn:aws:cloudtrail:us-east-1:{member_account}:trail/bespoke-trail"
    assert outputs == {"trail_arn": arn, "trail_name": "bespoke-trail"}
    cloudtrail = aws.member_client("cloudtrail", account_id=member_account)
    [trail] = cloudtrail.describe_trails()["trailList"]
    assert trail["TrailARN"] == arn
    assert trail["S3BucketName"] == "bespoke-test-log-archive"
    assert "S3KeyPrefix" not in trail
    assert (trail["IsMultiRegionTrail"], trail["LogFileValidationEnabled"], trail["IncludeGlobalServiceEvents"]) == (
        True,
        True,
        True,
    )
    assert trail["HomeRegion"] == "us-east-1"
    assert cloudtrail.get_trail_status(Name=arn)["IsLogging"] is True
    [tags] = cloudtrail.list_tags(ResourceIdList=[arn])["ResourceTagList"]
    assert {"Key": "bespoke:request-id", "Value": "11111111-1111-4111-8111-111111111111"} in tags["TagsList"]
    assert aws.client("cloudtrail").describe_trails()["trailList"] == []


def test_the_name_prefix_and_home_region_come_from_the_blueprint(
    aws: EmulatedAws, step_context: MakeContext, member_account: str
) -> None:
    params = {"name": "org-audit", "s3_key_prefix": "cloudtrail", "region": "us-west-2"}

    outputs = cloudtrail_step.cloudtrail(step_context("cloudtrail", step_params=params))

    assert outputs["trail_arn"] == f"arn:aws:cloudtrail:us-west-2:{member_account}:trail/org-audit"
    cloudtrail = member_client_in(aws, "cloudtrail", account_id=member_account, region="us-west-2")
    [trail] = cloudtrail.describe_trails(trailNameList=["org-audit"])["trailList"]
    assert (trail["HomeRegion"], trail["S3KeyPrefix"]) == ("us-west-2", "cloudtrail")


def test_running_it_again_updates_the_same_trail_and_logs_again(
    aws: EmulatedAws, step_context: MakeContext, member_account: str
) -> None:
    first = cloudtrail_step.cloudtrail(step_context("cloudtrail", step_params={"s3_key_prefix": "old"}))
    cloudtrail = aws.member_client("cloudtrail", account_id=member_account)
    cloudtrail.stop_logging(Name=first["trail_arn"])

    second = cloudtrail_step.cloudtrail(step_context("cloudtrail", step_params={"s3_key_prefix": "new"}, attempt=2))

    assert second == first
    [trail] = cloudtrail.describe_trails()["trailList"]
    assert (trail["TrailARN"], trail["S3KeyPrefix"], trail["IsMultiRegionTrail"]) == (first["trail_arn"], "new", True)
    assert cloudtrail.get_trail_status(Name=first["trail_arn"])["IsLogging"] is True


def test_without_a_log_archive_bucket_it_fails_for_good_and_makes_no_trail(
    aws: EmulatedAws, step_context: MakeContext, member_account: str, payer_settings: dict[str, str]
) -> None:
    context = step_context("cloudtrail", payer_settings={**payer_settings, "log_archive_bucket": ""})

    with pytest.raises(PermanentError) as raised:
        cloudtrail_step.cloudtrail(context)

    assert raised.value.code == "missing_log_archive_bucket"
    assert aws.member_client("cloudtrail", account_id=member_account).describe_trails()["trailList"] == []

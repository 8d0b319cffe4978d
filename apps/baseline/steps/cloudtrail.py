"""The ``cloudtrail`` step: a multi-region trail to the payer's central log bucket."""

from typing import Any

from apps.baseline.steps import aws
from apps.baseline.steps.params import CLOUDTRAIL_DEFAULT_PARAMS
from apps.cloud import api as cloud
from apps.kernel.steps import StepContext
from apps.kernel.steptools import aws_tags


def cloudtrail(context: StepContext) -> dict[str, Any]:
    """A multi-region trail with log file validation and global service events, delivering
    to the payer's central log bucket, logging.

    Idempotent: the trail is looked up by name and updated in place when it exists (created
    only when it does not); StartLogging on a logging trail changes nothing.
    """
    params = context.params(CLOUDTRAIL_DEFAULT_PARAMS)
    name = str(params["name"])
    bucket = aws.log_archive_bucket(context.require("payer_settings"))
    client = aws.client(
        "cloudtrail", session=cloud.member_session_of(context.inputs), region=aws.region_for(params, context.inputs)
    )
    prefix = params.get("s3_key_prefix") or ""
    settings: dict[str, Any] = {
        "Name": name,
        "S3BucketName": bucket,
        "IncludeGlobalServiceEvents": True,
        "IsMultiRegionTrail": True,
        "EnableLogFileValidation": True,
    }
    existing = aws.lookup("GetTrail", lambda: client.get_trail(Name=name)["Trail"], missing="TrailNotFoundException")
    if existing is None:
        with cloud.aws_errors("CreateTrail", retryable_codes=frozenset({"TrailAlreadyExistsException"})):
            trail = client.create_trail(
                **settings,
                **({"S3KeyPrefix": prefix} if prefix else {}),
                TagsList=aws_tags(context.inputs, request_tags=False),
            )
    else:
        with cloud.aws_errors("UpdateTrail"):
            trail = client.update_trail(**settings, S3KeyPrefix=prefix)  # "" removes a prefix
    arn = str(trail["TrailARN"])
    with cloud.aws_errors("StartLogging"):
        client.start_logging(Name=arn)
    return {"trail_arn": arn, "trail_name": name}

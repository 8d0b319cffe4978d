"""The ``config`` step: AWS Config's recorder, delivery channel and the blueprint's rules."""

import json
from typing import Any

from apps.baseline.steps import aws
from apps.baseline.steps.params import CONFIG_DEFAULT_PARAMS, config_rule_specs
from apps.cloud import api as cloud
from apps.kernel.errors import PermanentError
from apps.kernel.steps import StepContext
from apps.kernel.steptools import aws_tags, request_regions

CONFIG_SERVICE = "config.amazonaws.com"


def config_role_arn(*, account_id: str, region: str | None) -> str:
    """AWS Config's service-linked role in the member account."""
    partition = aws.partition_for(region)
    return f"arn:{partition}:iam::{account_id}:role/aws-service-role/{CONFIG_SERVICE}/AWSServiceRoleForConfig"


def config(context: StepContext) -> dict[str, Any]:
    """AWS Config in each of the request's regions (or in the one its ``region`` parameter
    names): the service-linked role, a recorder of every supported resource type (global
    ones included), a delivery channel to the payer's central bucket, recording started,
    and the blueprint's AWS-managed rules. Outputs the primary region's names and the
    regions it is on in (``config_regions``).

    Idempotent: every call is an upsert. Create-service-linked-role treats "already
    exists" as done; the recorder and the channel keep the name of any that already exist
    (AWS allows one of each per region); StartConfigurationRecorder on a recording recorder
    and PutConfigRule on an existing rule (same name) change nothing new.
    """
    inputs = context.inputs
    params = context.params(CONFIG_DEFAULT_PARAMS)
    aws.log_archive_bucket(context.require("payer_settings"))
    regions: list[str | None] = [aws.region_for(params, inputs)]
    if not params.get("region") and (inputs.get("regions") or inputs.get("region")):
        regions = list(request_regions(inputs))
    session = cloud.member_session_of(context.inputs)
    if params.get("create_service_linked_role", True):
        _ensure_config_service_linked_role(aws.client("iam", session=session))
    outputs = [_config_in(context, session, params, region=region) for region in regions]
    return {**outputs[0], "config_regions": regions}


def _config_in(context: StepContext, session: Any, params: dict[str, Any], *, region: str | None) -> dict[str, Any]:
    inputs = context.inputs
    bucket = aws.log_archive_bucket(context.require("payer_settings"))
    account_id = str(context.require("account_id"))
    rules = config_rule_specs(params, regulated=bool(inputs.get("regulated")))
    client = aws.client("config", session=session, region=region)

    with cloud.aws_errors("DescribeConfigurationRecorders"):
        recorders = client.describe_configuration_recorders()["ConfigurationRecorders"]
    recorder_name = str(recorders[0]["name"] if recorders else params["recorder_name"])
    # InvalidRoleException: a service-linked role made a moment ago is not usable yet.
    with cloud.aws_errors("PutConfigurationRecorder", retryable_codes=frozenset({"InvalidRoleException"})):
        client.put_configuration_recorder(
            ConfigurationRecorder={
                "name": recorder_name,
                "roleARN": config_role_arn(account_id=account_id, region=region),
                "recordingGroup": {"allSupported": True, "includeGlobalResourceTypes": True},
            }
        )
    with cloud.aws_errors("DescribeDeliveryChannels"):
        channels = client.describe_delivery_channels()["DeliveryChannels"]
    channel_name = str(channels[0]["name"] if channels else params["delivery_channel_name"])
    channel: dict[str, Any] = {
        "name": channel_name,
        "s3BucketName": bucket,
        "configSnapshotDeliveryProperties": {"deliveryFrequency": params["delivery_frequency"]},
    }
    if params.get("s3_key_prefix"):
        channel["s3KeyPrefix"] = params["s3_key_prefix"]
    with cloud.aws_errors("PutDeliveryChannel"):
        client.put_delivery_channel(DeliveryChannel=channel)
    with cloud.aws_errors("StartConfigurationRecorder"):
        client.start_configuration_recorder(ConfigurationRecorderName=recorder_name)

    tags = aws_tags(inputs, request_tags=False)
    for rule in rules:
        body: dict[str, Any] = {
            "ConfigRuleName": rule.name,
            "Source": {"Owner": "AWS", "SourceIdentifier": rule.identifier},
        }
        if rule.input_parameters:
            body["InputParameters"] = json.dumps(rule.input_parameters)
        if rule.maximum_execution_frequency:
            body["MaximumExecutionFrequency"] = rule.maximum_execution_frequency
        with cloud.aws_errors("PutConfigRule"):
            client.put_config_rule(ConfigRule=body, Tags=tags)
    return {
        "recorder_name": recorder_name,
        "delivery_channel_name": channel_name,
        "config_rules": [rule.name for rule in rules],
    }


def _ensure_config_service_linked_role(client: Any) -> None:
    try:
        with cloud.aws_errors("CreateServiceLinkedRole"):
            client.create_service_linked_role(AWSServiceName=CONFIG_SERVICE)
    except PermanentError as error:
        # AWS says InvalidInput ("...has been taken in this account") when the role exists.
        if error.code not in {"InvalidInput", "EntityAlreadyExists"}:
            raise

"""The ``flow_logs`` step: flow logs for the request's VPC, to the payer's log-archive
bucket or to a log group in the member account."""

import contextlib
from collections.abc import Mapping
from typing import Any

from apps.cloud import api as cloud
from apps.kernel.errors import PermanentError
from apps.kernel.steps import StepContext
from apps.kernel.steptools import aws_tags
from apps.network.steps.aws import NOT_YET, described, tag_spec, vpc_ids_by_region
from apps.network.steps.params import FLOW_LOGS_DEFAULT_PARAMS, flow_logs_destination

_FLOW_LOGS_TRUST = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
    '"Principal":{"Service":"vpc-flow-logs.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
)


def flow_logs(context: StepContext) -> dict[str, Any]:
    """Turn on flow logs for the request's VPC in each of its regions.

    Params (``FLOW_LOGS_DEFAULT_PARAMS``):
      ``destination`` (``"s3"``): ``"s3"`` — the payer's log-archive bucket
      (``arn:aws:s3:::<bucket>``; its bucket policy must let ``delivery.logs.amazonaws.com``
      write, which the log-archive account owns); ``"cloud-watch-logs"`` — a log group in
      the member account, created if missing, written through an IAM role created if missing.
      ``traffic_type`` (``"ALL"``): ``ALL``, ``ACCEPT`` or ``REJECT``.
      ``log_group_name`` (``"/bespoke/vpc-flow-logs"``) and ``role_name``
      (``"bespoke-vpc-flow-logs"``): for ``cloud-watch-logs`` only.

    Outputs the primary region's ``flow_log_id`` and every region's under ``flow_logs``.

    Idempotent: each VPC's flow logs are described (filtered by resource id) first and one
    with the same destination and traffic type is reused; the create call carries a client
    token derived from the request id; the log group and role are created only if missing.
    """
    context.require("vpc_id")
    params = context.params(FLOW_LOGS_DEFAULT_PARAMS)
    session = cloud.member_session_of(context.inputs)
    ids = {
        region: _flow_log(context, session, params, region=region, vpc_id=vpc_id)
        for region, vpc_id in vpc_ids_by_region(context.inputs).items()
    }
    return {"flow_log_id": ids[context.require("region")], "flow_logs": ids}


def _flow_log(context: StepContext, session: Any, params: Mapping[str, Any], *, region: str, vpc_id: str) -> str:
    """The id of the flow log of ``vpc_id`` (in ``region``), created if missing."""
    request_id = context.require("request_id")
    destination_type, traffic_type = flow_logs_destination(params)
    ec2 = cloud.client("ec2", session=session, region=region)
    if destination_type == "s3":
        bucket = context.require("payer_settings").get("log_archive_bucket")
        if not bucket:
            raise PermanentError(
                "The payer has no log-archive bucket for flow logs.", code="missing_log_archive_bucket"
            )
        target: dict[str, str] = {"LogDestination": f"arn:aws:s3:::{bucket}"}
    else:
        target = {"LogGroupName": params["log_group_name"]}

    existing = _matching_flow_log(ec2, vpc_id=vpc_id, destination_type=destination_type, target=target)
    if existing:
        return existing

    if destination_type == "cloud-watch-logs":
        _ensure_log_group(cloud.client("logs", session=session, region=region), params["log_group_name"])
        target["DeliverLogsPermissionArn"] = _ensure_flow_logs_role(
            cloud.client("iam", session=session, region=region), params["role_name"], params["log_group_name"]
        )
    tags = aws_tags(
        context.inputs, component="flow-log", name=f"{context.inputs.get('account_name') or vpc_id}-flow-logs"
    )
    with cloud.aws_errors("CreateFlowLogs", retryable_codes=NOT_YET):
        answer = ec2.create_flow_logs(
            ResourceIds=[vpc_id],
            ResourceType="VPC",
            TrafficType=traffic_type,
            LogDestinationType=destination_type,
            ClientToken=f"{request_id}-flow-logs",
            TagSpecifications=tag_spec("vpc-flow-log", tags),
            **target,
        )
    if answer.get("FlowLogIds"):
        return str(answer["FlowLogIds"][0])
    problems = [item.get("Error", {}) for item in answer.get("Unsuccessful", [])]
    if any(p.get("Code") == "FlowLogAlreadyExists" for p in problems):
        existing = _matching_flow_log(ec2, vpc_id=vpc_id, destination_type=destination_type, target=target)
        if existing:
            return existing
    detail = "; ".join(f"{p.get('Code')}: {p.get('Message')}" for p in problems) or "no flow log id returned"
    raise PermanentError(
        f"CreateFlowLogs: {detail}", code=str(problems[0].get("Code")) if problems else "flow_logs_not_created"
    )


def _matching_flow_log(ec2: Any, *, vpc_id: str, destination_type: str, target: Mapping[str, str]) -> str | None:
    for flow_log in described(
        ec2.describe_flow_logs,
        "FlowLogs",
        "DescribeFlowLogs",
        Filters=[{"Name": "resource-id", "Values": [vpc_id]}],
    ):
        if flow_log.get("LogDestinationType", "cloud-watch-logs") != destination_type:
            continue
        if "LogDestination" in target and flow_log.get("LogDestination", "").rstrip("/") != target["LogDestination"]:
            continue
        if "LogGroupName" in target and flow_log.get("LogGroupName") != target["LogGroupName"]:
            continue
        return str(flow_log["FlowLogId"])
    return None


def _ensure_log_group(logs: Any, name: str) -> None:
    with cloud.aws_errors("CreateLogGroup"), contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName=name)


def _ensure_flow_logs_role(iam: Any, role_name: str, log_group_name: str) -> str:
    """The role VPC Flow Logs assumes to write to CloudWatch Logs (created if missing; its
    inline policy is rewritten, which is idempotent)."""
    with cloud.aws_errors("GetRole"):
        try:
            arn = str(iam.get_role(RoleName=role_name)["Role"]["Arn"])
        except iam.exceptions.NoSuchEntityException:
            arn = str(
                iam.create_role(
                    RoleName=role_name,
                    AssumeRolePolicyDocument=_FLOW_LOGS_TRUST,
                    Description="Lets VPC Flow Logs write to CloudWatch Logs (Bespoke).",
                )["Role"]["Arn"]
            )
    policy = (
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["logs:CreateLogStream",'
        '"logs:PutLogEvents","logs:DescribeLogGroups","logs:DescribeLogStreams"],'
        f'"Resource":"arn:aws:logs:*:*:log-group:{log_group_name}*"}}]}}'
    )
    with cloud.aws_errors("PutRolePolicy"):
        iam.put_role_policy(RoleName=role_name, PolicyName="vpc-flow-logs", PolicyDocument=policy)
    return arn

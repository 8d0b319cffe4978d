"""The ``flow_logs`` step against emulated AWS: flow logs on the request's VPC in the member
account, to the payer's log-archive bucket or to CloudWatch Logs, created once."""

from collections.abc import Callable
from typing import Any

import pytest

from apps.kernel.errors import PermanentError
from apps.kernel.steps import StepContext
from apps.network.steps import flow_logs as flow_logs_step
from tests.conftest import EmulatedAws

pytestmark = pytest.mark.django_db

MakeContext = Callable[..., StepContext]


def member(aws: EmulatedAws, account_id: str, service: str) -> Any:
    return aws.member_client(service, account_id=account_id)


@pytest.fixture
def vpc_id(aws: EmulatedAws, member_account: str) -> str:
    """A VPC in the member account, as the ``vpc`` step would have left it."""
    return str(member(aws, member_account, "ec2").create_vpc(CidrBlock="10.64.0.0/24")["Vpc"]["VpcId"])


def flow_logs_of(ec2: Any, vpc_id: str) -> list[dict[str, Any]]:
    return list(ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc_id]}])["FlowLogs"])


def test_flow_logs_go_to_the_payers_log_archive_bucket(
    aws: EmulatedAws, step_context: MakeContext, member_account: str, vpc_id: str
) -> None:
    outputs = flow_logs_step.flow_logs(step_context("flow_logs", vpc_id=vpc_id))

    [flow_log] = flow_logs_of(member(aws, member_account, "ec2"), vpc_id)
    assert outputs == {"flow_log_id": flow_log["FlowLogId"], "flow_logs": {"us-east-1": flow_log["FlowLogId"]}}
    assert flow_log["LogDestinationType"] == "s3"
    assert flow_log["LogDestination"] == "arn:aws:s3:::bespoke-test-log-archive"
    assert flow_log["TrafficType"] == "ALL"
    assert flow_logs_of(aws.client("ec2"), vpc_id) == []  # made in the member account only


def test_flow_logs_can_go_to_cloudwatch_logs_through_a_role(
    aws: EmulatedAws, step_context: MakeContext, member_account: str, vpc_id: str
) -> None:
    outputs = flow_logs_step.flow_logs(
        step_context(
            "flow_logs", vpc_id=vpc_id, step_params={"destination": "cloud-watch-logs", "traffic_type": "REJECT"}
        )
    )

    [flow_log] = flow_logs_of(member(aws, member_account, "ec2"), vpc_id)
    assert outputs == {"flow_log_id": flow_log["FlowLogId"], "flow_logs": {"us-east-1": flow_log["FlowLogId"]}}
    assert (flow_log["LogDestinationType"], flow_log["LogGroupName"], flow_log["TrafficType"]) == (
        "cloud-watch-logs",
        "/bespoke/vpc-flow-logs",
        "REJECT",
    )
    groups = member(aws, member_account, "logs").describe_log_groups()["logGroups"]
    assert [g["logGroupName"] for g in groups] == ["/bespoke/vpc-flow-logs"]
    role = member(aws, member_account, "iam").get_role(RoleName="bespoke-vpc-flow-logs")["Role"]
    assert flow_log["DeliverLogsPermissionArn"] == role["Arn"]
    assert "vpc-flow-logs.amazonaws.com" in str(role["AssumeRolePolicyDocument"])


@pytest.mark.parametrize("step_params", [{}, {"destination": "cloud-watch-logs"}])
def test_running_the_step_again_creates_nothing_new(
    aws: EmulatedAws, step_context: MakeContext, member_account: str, vpc_id: str, step_params: dict[str, str]
) -> None:
    first = flow_logs_step.flow_logs(step_context("flow_logs", vpc_id=vpc_id, step_params=step_params))
    second = flow_logs_step.flow_logs(step_context("flow_logs", vpc_id=vpc_id, step_params=step_params, attempt=2))

    assert second == first
    assert [f["FlowLogId"] for f in flow_logs_of(member(aws, member_account, "ec2"), vpc_id)] == [first["flow_log_id"]]


def test_a_payer_without_a_log_archive_bucket_fails_for_good(
    step_context: MakeContext, payer_settings: dict[str, str], vpc_id: str
) -> None:
    context = step_context("flow_logs", vpc_id=vpc_id, payer_settings={**payer_settings, "log_archive_bucket": ""})

    with pytest.raises(PermanentError) as raised:
        flow_logs_step.flow_logs(context)

    assert raised.value.code == "missing_log_archive_bucket"


def test_an_unknown_destination_fails_for_good(step_context: MakeContext, vpc_id: str) -> None:
    with pytest.raises(PermanentError) as raised:
        flow_logs_step.flow_logs(step_context("flow_logs", vpc_id=vpc_id, step_params={"destination": "kinesis"}))
    assert raised.value.code == "invalid_step_params"

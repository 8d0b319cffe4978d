"""The ``verify`` step: read back what the run built and fail precisely if anything is
missing (the original service's CONFIGURATION_CHECK)."""

from collections.abc import Mapping
from typing import Any

from apps.baseline import api as baseline
from apps.cloud import api as cloud
from apps.kernel.errors import PermanentError
from apps.kernel.steps import StepContext, StepFunction


def verify(context: StepContext) -> dict[str, Any]:
    """Check the member account against the run's blueprint.

    Read-only, so idempotent by construction. ``step_params.expectations`` holds the
    parameters of every step the blueprint ran; the outputs of those steps (VPC and
    subnet ids, the hosted zone, the flow log) say which resources to look at.
    """
    inputs = context.inputs
    expectations: dict[str, Any] = dict(inputs.get("step_params", {}).get("expectations", {}))
    payer_settings = context.require("payer_settings")
    account_id = context.require("account_id")
    baseline_expectations = {k: v for k, v in expectations.items() if k in ("iam", "cloudtrail", "config")}
    if "config" in baseline_expectations:
        baseline_expectations["config"] = {
            **baseline_expectations["config"],
            "regulated": bool(inputs.get("regulated")),
        }
    problems = baseline.read_back(
        payer_settings=payer_settings,
        account_id=account_id,
        expectations=baseline_expectations,
        region=inputs.get("region"),
    )
    if "vpc" in expectations:
        problems += _network_problems(inputs, expectations, payer_settings=payer_settings, account_id=account_id)
    if problems:
        raise PermanentError(
            f"Verification found {len(problems)} problem(s): " + "; ".join(problems), code="VerificationFailed"
        )
    return {"verified": sorted(expectations)}


def _network_problems(
    inputs: Mapping[str, Any], expectations: Mapping[str, Any], *, payer_settings: Mapping[str, Any], account_id: str
) -> list[str]:
    session = cloud.member_session_for(payer_settings=payer_settings, account_id=account_id)
    ec2 = cloud.client("ec2", session=session, region=inputs["region"])
    problems: list[str] = []
    vpc_id = inputs.get("vpc_id")
    if not vpc_id:
        return ["the vpc step reported no vpc_id"]
    with cloud.aws_errors("DescribeVpcs"):
        vpcs = ec2.describe_vpcs(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Vpcs"]
    if not vpcs:
        return [f"VPC {vpc_id} does not exist"]
    if inputs.get("cidr") and vpcs[0]["CidrBlock"] != inputs["cidr"]:
        problems.append(f"VPC {vpc_id} has CIDR {vpcs[0]['CidrBlock']}, not the allocated {inputs['cidr']}")
    expected_subnets = {subnet["id"] for subnet in inputs.get("subnets", [])}
    with cloud.aws_errors("DescribeSubnets"):
        actual = {
            s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]
        }
    missing = sorted(expected_subnets - actual)
    if missing:
        problems.append(f"subnet(s) missing from VPC {vpc_id}: {', '.join(missing)}")
    if not expected_subnets:
        problems.append(f"VPC {vpc_id} has no subnets recorded")
    if "flow_logs" in expectations:
        with cloud.aws_errors("DescribeFlowLogs"):
            flow_logs = ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc_id]}])["FlowLogs"]
        if not flow_logs:
            problems.append(f"VPC {vpc_id} has no flow logs")
    if "dns" in expectations and inputs.get("hosted_zone_id"):
        route53 = cloud.client("route53", session=session)
        with cloud.aws_errors("GetHostedZone"):
            zone = route53.get_hosted_zone(Id=inputs["hosted_zone_id"])
        if vpc_id not in {v["VPCId"] for v in zone.get("VPCs", [])}:
            problems.append(f"hosted zone {inputs['hosted_zone_id']} is not associated with VPC {vpc_id}")
    return problems


STEPS: dict[str, StepFunction] = {"verify": verify}

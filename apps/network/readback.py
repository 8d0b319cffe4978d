"""What ``verify`` reads back of the network steps in a member account: one sentence per
problem, none when the VPC, its subnets, flow logs and zone are what the run reported.

The steps' outputs (the VPC's and subnets' ids, the zone) are among the run's inputs
``verify`` receives; these checks read those resources back from AWS."""

from collections.abc import Mapping
from typing import Any

from apps.cloud import api as cloud
from apps.kernel.contracts import ReadBack


def _ec2(check: ReadBack, region: str) -> Any:
    return cloud.client("ec2", session=cloud.member_session_of(check.inputs), region=region)


def _vpcs(inputs: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """What the ``vpc`` step reported of each region (a run from before it built in several
    regions: its one VPC, in the primary region)."""
    vpcs = inputs.get("vpcs")
    if vpcs:
        return {str(region): dict(vpc) for region, vpc in vpcs.items()}
    return {str(inputs["region"]): dict(inputs)}


def vpc_problems(check: ReadBack) -> list[str]:
    if not check.inputs.get("vpc_id"):
        return ["the vpc step reported no vpc_id"]
    problems: list[str] = []
    for region, reported in _vpcs(check.inputs).items():
        problems += _vpc_problems(_ec2(check, region), reported, region=region)
    return problems


def _vpc_problems(ec2: Any, reported: Mapping[str, Any], *, region: str) -> list[str]:
    vpc_id = reported.get("vpc_id")
    if not vpc_id:
        return [f"the vpc step reported no VPC in {region}"]
    with cloud.aws_errors("DescribeVpcs"):
        vpcs = ec2.describe_vpcs(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Vpcs"]
    if not vpcs:
        return [f"VPC {vpc_id} does not exist in {region}"]
    problems: list[str] = []
    if reported.get("cidr") and vpcs[0]["CidrBlock"] != reported["cidr"]:
        problems.append(f"VPC {vpc_id} has CIDR {vpcs[0]['CidrBlock']}, not the allocated {reported['cidr']}")
    expected_subnets = {subnet["id"] for subnet in reported.get("subnets", [])}
    with cloud.aws_errors("DescribeSubnets"):
        actual = {
            s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]
        }
    missing = sorted(expected_subnets - actual)
    if missing:
        problems.append(f"subnet(s) missing from VPC {vpc_id}: {', '.join(missing)}")
    if not expected_subnets:
        problems.append(f"VPC {vpc_id} has no subnets recorded")
    return problems


def flow_logs_problems(check: ReadBack) -> list[str]:
    if not check.inputs.get("vpc_id"):
        return []  # vpc_problems says so
    problems: list[str] = []
    for region, reported in _vpcs(check.inputs).items():
        vpc_id = reported.get("vpc_id")
        if not vpc_id:
            continue
        with cloud.aws_errors("DescribeFlowLogs"):
            flow_logs = _ec2(check, region).describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc_id]}])
        if not flow_logs["FlowLogs"]:
            problems.append(f"VPC {vpc_id} ({region}) has no flow logs")
    return problems


def dns_problems(check: ReadBack) -> list[str]:
    inputs = check.inputs
    vpc_id, zone_id = inputs.get("vpc_id"), inputs.get("hosted_zone_id")
    if not vpc_id or not zone_id:
        return []
    route53 = cloud.client("route53", session=cloud.member_session_of(check.inputs))
    with cloud.aws_errors("GetHostedZone"):
        zone = route53.get_hosted_zone(Id=zone_id)
    associated = {v["VPCId"] for v in zone.get("VPCs", [])}
    return [
        f"hosted zone {zone_id} is not associated with VPC {reported['vpc_id']} ({region})"
        for region, reported in _vpcs(inputs).items()
        if reported.get("vpc_id") and reported["vpc_id"] not in associated
    ]

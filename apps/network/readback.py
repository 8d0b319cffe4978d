"""What ``verify`` reads back of the network steps in a member account: one sentence per
problem, none when the VPC, its subnets, flow logs and zone are what the run reported.

The steps' outputs (the VPC's and subnets' ids, the zone) are among the run's inputs
``verify`` receives; these checks read those resources back from AWS."""

from typing import Any

from apps.cloud import api as cloud
from apps.kernel.contracts import ReadBack


def _ec2(check: ReadBack) -> Any:
    return cloud.client("ec2", session=cloud.member_session_of(check.inputs), region=check.inputs["region"])


def vpc_problems(check: ReadBack) -> list[str]:
    inputs = check.inputs
    vpc_id = inputs.get("vpc_id")
    if not vpc_id:
        return ["the vpc step reported no vpc_id"]
    ec2 = _ec2(check)
    with cloud.aws_errors("DescribeVpcs"):
        vpcs = ec2.describe_vpcs(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Vpcs"]
    if not vpcs:
        return [f"VPC {vpc_id} does not exist"]
    problems: list[str] = []
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
    return problems


def flow_logs_problems(check: ReadBack) -> list[str]:
    vpc_id = check.inputs.get("vpc_id")
    if not vpc_id:
        return []  # vpc_problems says so
    with cloud.aws_errors("DescribeFlowLogs"):
        flow_logs = _ec2(check).describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc_id]}])["FlowLogs"]
    return [] if flow_logs else [f"VPC {vpc_id} has no flow logs"]


def dns_problems(check: ReadBack) -> list[str]:
    inputs = check.inputs
    vpc_id, zone_id = inputs.get("vpc_id"), inputs.get("hosted_zone_id")
    if not vpc_id or not zone_id:
        return []
    route53 = cloud.client("route53", session=cloud.member_session_of(check.inputs))
    with cloud.aws_errors("GetHostedZone"):
        zone = route53.get_hosted_zone(Id=zone_id)
    if vpc_id not in {v["VPCId"] for v in zone.get("VPCs", [])}:
        return [f"hosted zone {zone_id} is not associated with VPC {vpc_id}"]
    return []

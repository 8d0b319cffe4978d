"""The network context's workflow steps: the VPC carved from the payer's IP pool, its flow
logs, its private DNS zone and its Direct Connect private virtual interface.

Every step acts inside the member account (assume-role), in the request's region, and
tags what it creates with ``bespoke:request-id`` and ``bespoke:component``. Before
creating anything it looks for what an earlier attempt left (by tag, client token or
caller reference), so running a step again converges on the same resources.
"""

import contextlib
import copy
import re
import string
from collections.abc import Callable, Mapping
from ipaddress import IPv4Network
from typing import Any

import boto3

from apps.cloud import api as cloud
from apps.kernel.contracts import PlanFacts
from apps.kernel.errors import InvalidStepParams, PermanentError, RetryableError
from apps.kernel.steps import StepContext
from apps.network.services import cidr_allocate

REQUEST_TAG = "bespoke:request-id"
COMPONENT_TAG = "bespoke:component"
TIER_TAG = "bespoke:tier"

# Right after a resource is created, EC2 may not know it yet (eventual consistency):
# "not found" from a call that uses it means "not yet".
NOT_YET = frozenset(
    {
        "InvalidVpcID.NotFound",
        "InvalidSubnetID.NotFound",
        "InvalidInternetGatewayID.NotFound",
        "InvalidRouteTableID.NotFound",
        "InvalidAllocationID.NotFound",
        "InvalidVpnGatewayID.NotFound",
        "NatGatewayNotFound",
        "IncorrectState",
    }
)

# AWS's smallest subnet.
SMALLEST_SUBNET_PREFIX = 28

# Characters AWS accepts in tag values; anything else (quotes, say) becomes a space.
_TAG_UNSAFE = re.compile(r"[^\w .:/=+\-@]", re.UNICODE)


# --- Helpers shared by the steps ---------------------------------------------------------


def merged_params(step: str, given: Mapping[str, Any] | None) -> dict[str, Any]:
    """A blueprint's parameters for ``step`` over its defaults; unknown keys are refused so
    that a typo in a blueprint fails loudly instead of being ignored."""
    defaults = _DEFAULTS[step]
    unknown = sorted(set(given or {}) - set(defaults))
    if unknown:
        raise InvalidStepParams(
            f"Step {step} does not take the parameter(s) {', '.join(unknown)}; it takes {', '.join(sorted(defaults))}."
        )
    return {**copy.deepcopy(defaults), **(given or {})}


def _params(context: StepContext, defaults: Mapping[str, Any]) -> dict[str, Any]:
    return merged_params(context.step, context.inputs.get("step_params"))


def _invalid(context: StepContext | str, message: str) -> PermanentError:
    step = context if isinstance(context, str) else context.step
    return InvalidStepParams(f"Step {step}: {message}")


def check_params(step: str, given: Mapping[str, Any] | None) -> None:
    """A blueprint's parameters for ``step``, checked as the step will read them (the step
    catalog's check when a blueprint is saved)."""
    params = merged_params(step, given)
    if step == "vpc":
        _vpc_tiers(params)
    if step == "flow_logs":
        _flow_logs_destination(params)
    if step == "direct_connect":
        _direct_connect_required(params)


# --- What a dry run says each step creates --------------------------------------------------


def describe_vpc(given: Mapping[str, Any], facts: PlanFacts) -> list[str]:
    params = merged_params("vpc", given)
    tiers, nat = params["tiers"], params["nat"]
    az_count, prefix = facts.vpc.get("az_count", 2), facts.vpc.get("prefix_length", 24)
    return [
        f"VPC /{prefix} with {az_count * len(tiers)} subnets over {az_count} AZs "
        f"({', '.join(tiers)}), internet gateway{', NAT gateway' if nat != 'none' else ''}, route tables",
        *(f"default VPC deleted in {region}" for region in params["delete_default_vpcs_in"] or [facts.region]),
    ]


def describe_flow_logs(given: Mapping[str, Any], facts: PlanFacts) -> list[str]:
    return [f"VPC flow logs to {merged_params('flow_logs', given)['destination']}"]


def describe_dns(given: Mapping[str, Any], facts: PlanFacts) -> list[str]:
    return ["private hosted zone associated with the VPC"]


def describe_direct_connect(given: Mapping[str, Any], facts: PlanFacts) -> list[str]:
    params = merged_params("direct_connect", given)
    return [f"Direct Connect private virtual interface on {params['connection_id']} VLAN {params['vlan']}"]


def _member_session(context: StepContext) -> boto3.Session:
    with cloud.aws_errors("AssumeRole"):
        return cloud.member_session_for(
            payer_settings=context.require("payer_settings"), account_id=context.require("account_id")
        )


def _tags(context: StepContext, *, component: str, name: str, **extra: str) -> list[dict[str, str]]:
    tags = {
        **{key: str(value) for key, value in (context.inputs.get("tags") or {}).items()},
        REQUEST_TAG: context.require("request_id"),
        COMPONENT_TAG: component,
        "Name": name,
        **extra,
    }
    return [{"Key": key[:128], "Value": _TAG_UNSAFE.sub(" ", value)[:256]} for key, value in sorted(tags.items())]


def _tag_spec(resource_type: str, tags: list[dict[str, str]]) -> list[dict[str, Any]]:
    return [{"ResourceType": resource_type, "Tags": tags}]


def _ours(context: StepContext, component: str, **tags: str) -> list[dict[str, Any]]:
    """EC2 filters for what this request's earlier attempts created of ``component``."""
    wanted = {REQUEST_TAG: context.require("request_id"), COMPONENT_TAG: component, **tags}
    return [{"Name": f"tag:{key}", "Values": [value]} for key, value in wanted.items()]


def _tag_value(resource: Mapping[str, Any], key: str) -> str | None:
    for tag in resource.get("Tags", []):
        if tag["Key"] == key:
            return str(tag["Value"])
    return None


def _describe(call: Callable[..., Any], key: str, action: str, **kwargs: Any) -> list[dict[str, Any]]:
    with cloud.aws_errors(action):
        return list(call(**kwargs)[key])


# --- vpc -----------------------------------------------------------------------------------

VPC_DEFAULT_PARAMS: dict[str, Any] = {
    "tiers": ["public", "private"],
    "nat": "single",
    "delete_default_vpcs_in": None,  # None: the request's region
}


def _vpc_tiers(params: Mapping[str, Any]) -> list[str]:
    tiers = params["tiers"]
    if not isinstance(tiers, list) or not tiers or len(set(tiers)) != len(tiers):
        raise _invalid("vpc", f"tiers must be a non-empty list of distinct names, not {tiers!r}.")
    if params["nat"] not in ("single", "none"):
        raise _invalid("vpc", f"nat must be 'single' or 'none', not {params['nat']!r}.")
    if params["nat"] == "single" and "public" not in tiers:
        raise _invalid("vpc", "a NAT gateway needs a 'public' tier to live in.")
    return list(tiers)


def subnet_layout(cidr: str, zones: list[str], tiers: list[str]) -> list[tuple[str, str, str]]:
    """``(tier, zone, cidr)`` for every subnet of a VPC: its CIDR split into the smallest
    power-of-two number of equal blocks that gives each tier one subnet per zone, handed out
    tier by tier, zone by zone (so a tier's subnets are contiguous)."""
    network = IPv4Network(cidr)
    needed = len(zones) * len(tiers)
    split_bits = (needed - 1).bit_length()
    subnet_prefix = network.prefixlen + split_bits
    if subnet_prefix > SMALLEST_SUBNET_PREFIX:
        raise PermanentError(
            f"A {network} VPC is too small for {needed} subnets (they would be /{subnet_prefix}; "
            f"AWS's smallest is /{SMALLEST_SUBNET_PREFIX}).",
            code="vpc_too_small",
        )
    blocks = network.subnets(prefixlen_diff=split_bits)
    return [(tier, zone, str(next(blocks))) for tier in tiers for zone in zones]


def vpc(context: StepContext) -> dict[str, Any]:
    """Carve the VPC's CIDR from the payer's IP pool and build the VPC in the member account:
    DNS support and hostnames, one subnet per availability zone and tier, an internet
    gateway, a NAT gateway, route tables (public → internet gateway, the other tiers → NAT
    gateway), and delete the default VPCs.

    Params (``VPC_DEFAULT_PARAMS``):
      ``tiers`` (``["public", "private"]``): subnet tiers; the ``public`` tier routes to the
      internet gateway, every other tier to the NAT gateway.
      ``nat`` (``"single"``): ``"single"`` — one NAT gateway with an Elastic IP in the first
      public subnet; ``"none"`` — no NAT gateway, the other tiers have no default route.
      ``delete_default_vpcs_in`` (``None``, meaning ``[region]``): regions whose default VPC
      is deleted (its internet gateway and subnets first).

    Idempotent: the allocation is per request (a second call returns the same block); every
    resource carries ``bespoke:request-id`` and ``bespoke:component`` tags (plus
    ``bespoke:tier`` for subnets and route tables) and is looked up by them before it is
    created; routes and associations are only added when missing; the NAT gateway uses a
    client token; default VPCs already gone are not looked for again. If the step fails, the
    block stays allocated until the run fails (``on_run_failed`` releases it).
    """
    request_id = context.require("request_id")
    region = context.require("region")
    wanted = context.require("vpc")
    params = _params(context, VPC_DEFAULT_PARAMS)
    tiers = _vpc_tiers(params)
    delete_in = params["delete_default_vpcs_in"]
    if delete_in is None:
        delete_in = [region]

    session = _member_session(context)
    ec2 = cloud.client("ec2", session=session, region=region)
    name = str(context.inputs.get("account_name") or request_id)

    found = _describe(ec2.describe_vpcs, "Vpcs", "DescribeVpcs", Filters=_ours(context, "vpc"))
    cidr = cidr_allocate(
        payer=context.require("payer"),
        region=region,
        request_id=request_id,
        prefix_length=int(wanted["prefix_length"]),
        cidr=found[0]["CidrBlock"] if found else None,
    )
    if found:
        vpc_id = found[0]["VpcId"]
    else:
        with cloud.aws_errors("CreateVpc"):
            vpc_id = ec2.create_vpc(
                CidrBlock=cidr, TagSpecifications=_tag_spec("vpc", _tags(context, component="vpc", name=name))
            )["Vpc"]["VpcId"]
    with cloud.aws_errors("ModifyVpcAttribute", retryable_codes=NOT_YET):
        ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsSupport={"Value": True})
        ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})

    zones = _availability_zones(ec2, int(wanted["az_count"]), region=region)
    subnets = _ensure_subnets(context, ec2, vpc_id=vpc_id, layout=subnet_layout(cidr, zones, tiers), name=name)
    internet_gateway_id = _ensure_internet_gateway(context, ec2, vpc_id=vpc_id, name=name)
    nat_gateway_id = None
    if params["nat"] == "single":
        first_public = next(s for s in subnets if s["tier"] == "public")
        nat_gateway_id = _ensure_nat_gateway(context, ec2, subnet_id=first_public["id"], name=name)
    route_table_ids = [
        _ensure_route_table(
            context,
            ec2,
            vpc_id=vpc_id,
            tier=tier,
            subnet_ids=[s["id"] for s in subnets if s["tier"] == tier],
            target=("GatewayId", internet_gateway_id)
            if tier == "public"
            else (("NatGatewayId", nat_gateway_id) if nat_gateway_id else None),
            name=name,
        )
        for tier in tiers
    ]
    for default_region in delete_in:
        _delete_default_vpc(cloud.client("ec2", session=session, region=default_region), region=default_region)
    return {
        "vpc_id": vpc_id,
        "cidr": cidr,
        "subnets": subnets,
        "internet_gateway_id": internet_gateway_id,
        "nat_gateway_id": nat_gateway_id,
        "route_table_ids": route_table_ids,
    }


def _availability_zones(ec2: Any, count: int, *, region: str) -> list[str]:
    zones = _describe(
        ec2.describe_availability_zones,
        "AvailabilityZones",
        "DescribeAvailabilityZones",
        Filters=[{"Name": "state", "Values": ["available"]}, {"Name": "zone-type", "Values": ["availability-zone"]}],
    )
    names = sorted(zone["ZoneName"] for zone in zones)
    if len(names) < count:
        raise PermanentError(
            f"{region} has {len(names)} available zones; the request asks for {count}.", code="not_enough_zones"
        )
    return names[:count]


def _ensure_subnets(
    context: StepContext, ec2: Any, *, vpc_id: str, layout: list[tuple[str, str, str]], name: str
) -> list[dict[str, str]]:
    existing = {
        (_tag_value(subnet, TIER_TAG), subnet["AvailabilityZone"]): subnet
        for subnet in _describe(
            ec2.describe_subnets,
            "Subnets",
            "DescribeSubnets",
            Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, *_ours(context, "subnet")],
        )
    }
    subnets = []
    for tier, zone, cidr in layout:
        subnet = existing.get((tier, zone))
        if subnet is None:
            tags = _tags(context, component="subnet", name=f"{name}-{tier}-{zone}", **{TIER_TAG: tier})
            with cloud.aws_errors("CreateSubnet", retryable_codes=NOT_YET):
                subnet = ec2.create_subnet(
                    VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=zone, TagSpecifications=_tag_spec("subnet", tags)
                )["Subnet"]
        elif subnet["CidrBlock"] != cidr:
            raise PermanentError(
                f"Subnet {subnet['SubnetId']} ({tier}, {zone}) has {subnet['CidrBlock']}, not {cidr}.",
                code="subnet_mismatch",
            )
        subnets.append({"id": subnet["SubnetId"], "az": zone, "tier": tier, "cidr": cidr})
    return subnets


def _ensure_internet_gateway(context: StepContext, ec2: Any, *, vpc_id: str, name: str) -> str:
    found = _describe(
        ec2.describe_internet_gateways,
        "InternetGateways",
        "DescribeInternetGateways",
        Filters=_ours(context, "internet-gateway"),
    )
    if found:
        gateway = found[0]
    else:
        tags = _tags(context, component="internet-gateway", name=name)
        with cloud.aws_errors("CreateInternetGateway"):
            gateway = ec2.create_internet_gateway(TagSpecifications=_tag_spec("internet-gateway", tags))[
                "InternetGateway"
            ]
    gateway_id: str = gateway["InternetGatewayId"]
    if not any(a.get("VpcId") == vpc_id for a in gateway.get("Attachments", [])):
        with cloud.aws_errors("AttachInternetGateway", retryable_codes=NOT_YET):
            ec2.attach_internet_gateway(InternetGatewayId=gateway_id, VpcId=vpc_id)
    return gateway_id


def _ensure_nat_gateway(context: StepContext, ec2: Any, *, subnet_id: str, name: str) -> str:
    found = _describe(
        ec2.describe_nat_gateways,
        "NatGateways",
        "DescribeNatGateways",
        Filter=[*_ours(context, "nat-gateway"), {"Name": "state", "Values": ["pending", "available"]}],
    )
    if found:
        gateway = found[0]
    else:
        addresses = _describe(
            ec2.describe_addresses, "Addresses", "DescribeAddresses", Filters=_ours(context, "nat-address")
        )
        if addresses:
            allocation_id = addresses[0]["AllocationId"]
        else:
            tags = _tags(context, component="nat-address", name=name)
            with cloud.aws_errors("AllocateAddress"):
                allocation_id = ec2.allocate_address(Domain="vpc", TagSpecifications=_tag_spec("elastic-ip", tags))[
                    "AllocationId"
                ]
        tags = _tags(context, component="nat-gateway", name=name)
        with cloud.aws_errors("CreateNatGateway", retryable_codes=NOT_YET):
            gateway = ec2.create_nat_gateway(
                SubnetId=subnet_id,
                AllocationId=allocation_id,
                ClientToken=f"{context.require('request_id')}-nat",
                TagSpecifications=_tag_spec("natgateway", tags),
            )["NatGateway"]
    if gateway["State"] in ("failed", "deleting", "deleted"):
        raise PermanentError(
            f"NAT gateway {gateway['NatGatewayId']} is {gateway['State']}: {gateway.get('FailureMessage', '')}",
            code=str(gateway.get("FailureCode") or "NatGatewayFailed"),
        )
    if gateway["State"] == "pending":
        # Routes go to an available gateway; the next attempt finds this one and goes on.
        raise RetryableError(f"NAT gateway {gateway['NatGatewayId']} is still pending.", code="nat_gateway_pending")
    return str(gateway["NatGatewayId"])


def _ensure_route_table(
    context: StepContext,
    ec2: Any,
    *,
    vpc_id: str,
    tier: str,
    subnet_ids: list[str],
    target: tuple[str, str] | None,
    name: str,
) -> str:
    found = _describe(
        ec2.describe_route_tables,
        "RouteTables",
        "DescribeRouteTables",
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, *_ours(context, "route-table", **{TIER_TAG: tier})],
    )
    if found:
        table = found[0]
    else:
        tags = _tags(context, component="route-table", name=f"{name}-{tier}", **{TIER_TAG: tier})
        with cloud.aws_errors("CreateRouteTable", retryable_codes=NOT_YET):
            table = ec2.create_route_table(VpcId=vpc_id, TagSpecifications=_tag_spec("route-table", tags))["RouteTable"]
    table_id: str = table["RouteTableId"]
    if target is not None:
        kind, target_id = target
        default = next((r for r in table.get("Routes", []) if r.get("DestinationCidrBlock") == "0.0.0.0/0"), None)
        if default is None:
            with cloud.aws_errors("CreateRoute", retryable_codes=NOT_YET):
                ec2.create_route(RouteTableId=table_id, DestinationCidrBlock="0.0.0.0/0", **{kind: target_id})
        elif default.get(kind) != target_id:
            with cloud.aws_errors("ReplaceRoute", retryable_codes=NOT_YET):
                ec2.replace_route(RouteTableId=table_id, DestinationCidrBlock="0.0.0.0/0", **{kind: target_id})
    associated = {a.get("SubnetId") for a in table.get("Associations", [])}
    for subnet_id in subnet_ids:
        if subnet_id not in associated:
            with cloud.aws_errors("AssociateRouteTable", retryable_codes=NOT_YET):
                ec2.associate_route_table(RouteTableId=table_id, SubnetId=subnet_id)
    return table_id


def _delete_default_vpc(ec2: Any, *, region: str) -> None:
    """Delete the region's default VPC: AWS refuses (DependencyViolation) while its internet
    gateway is attached or it has subnets, so those go first."""
    for default in _describe(
        ec2.describe_vpcs, "Vpcs", f"DescribeVpcs({region})", Filters=[{"Name": "isDefault", "Values": ["true"]}]
    ):
        vpc_id = default["VpcId"]
        for gateway in _describe(
            ec2.describe_internet_gateways,
            "InternetGateways",
            f"DescribeInternetGateways({region})",
            Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}],
        ):
            with cloud.aws_errors(f"DeleteInternetGateway({region})"):
                ec2.detach_internet_gateway(InternetGatewayId=gateway["InternetGatewayId"], VpcId=vpc_id)
                ec2.delete_internet_gateway(InternetGatewayId=gateway["InternetGatewayId"])
        for subnet in _describe(
            ec2.describe_subnets,
            "Subnets",
            f"DescribeSubnets({region})",
            Filters=[{"Name": "vpc-id", "Values": [vpc_id]}],
        ):
            with cloud.aws_errors(f"DeleteSubnet({region})"):
                ec2.delete_subnet(SubnetId=subnet["SubnetId"])
        with cloud.aws_errors(f"DeleteVpc({region})"):
            ec2.delete_vpc(VpcId=vpc_id)


# --- flow_logs -----------------------------------------------------------------------------

FLOW_LOGS_DEFAULT_PARAMS: dict[str, Any] = {
    "destination": "s3",
    "traffic_type": "ALL",
    "log_group_name": "/bespoke/vpc-flow-logs",
    "role_name": "bespoke-vpc-flow-logs",
}

_FLOW_LOGS_TRUST = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
    '"Principal":{"Service":"vpc-flow-logs.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
)


def _flow_logs_destination(params: Mapping[str, Any]) -> tuple[str, str]:
    destination_type = params["destination"]
    traffic_type = str(params["traffic_type"]).upper()
    if destination_type not in ("s3", "cloud-watch-logs"):
        raise _invalid("flow_logs", f"destination must be 's3' or 'cloud-watch-logs', not {destination_type!r}.")
    if traffic_type not in ("ALL", "ACCEPT", "REJECT"):
        raise _invalid("flow_logs", f"traffic_type must be ALL, ACCEPT or REJECT, not {traffic_type!r}.")
    return destination_type, traffic_type


def flow_logs(context: StepContext) -> dict[str, Any]:
    """Turn on flow logs for the request's VPC.

    Params (``FLOW_LOGS_DEFAULT_PARAMS``):
      ``destination`` (``"s3"``): ``"s3"`` — the payer's log-archive bucket
      (``arn:aws:s3:::<bucket>``; its bucket policy must let ``delivery.logs.amazonaws.com``
      write, which the log-archive account owns); ``"cloud-watch-logs"`` — a log group in
      the member account, created if missing, written through an IAM role created if missing.
      ``traffic_type`` (``"ALL"``): ``ALL``, ``ACCEPT`` or ``REJECT``.
      ``log_group_name`` (``"/bespoke/vpc-flow-logs"``) and ``role_name``
      (``"bespoke-vpc-flow-logs"``): for ``cloud-watch-logs`` only.

    Idempotent: the VPC's flow logs are described (filtered by resource id) first and one
    with the same destination and traffic type is reused; the create call carries a client
    token derived from the request id; the log group and role are created only if missing.
    """
    request_id = context.require("request_id")
    region = context.require("region")
    vpc_id = context.require("vpc_id")
    params = _params(context, FLOW_LOGS_DEFAULT_PARAMS)
    destination_type, traffic_type = _flow_logs_destination(params)

    session = _member_session(context)
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
        return {"flow_log_id": existing}

    if destination_type == "cloud-watch-logs":
        _ensure_log_group(cloud.client("logs", session=session, region=region), params["log_group_name"])
        target["DeliverLogsPermissionArn"] = _ensure_flow_logs_role(
            cloud.client("iam", session=session, region=region), params["role_name"], params["log_group_name"]
        )
    tags = _tags(context, component="flow-log", name=f"{context.inputs.get('account_name') or vpc_id}-flow-logs")
    with cloud.aws_errors("CreateFlowLogs", retryable_codes=NOT_YET):
        answer = ec2.create_flow_logs(
            ResourceIds=[vpc_id],
            ResourceType="VPC",
            TrafficType=traffic_type,
            LogDestinationType=destination_type,
            ClientToken=f"{request_id}-flow-logs",
            TagSpecifications=_tag_spec("vpc-flow-log", tags),
            **target,
        )
    if answer.get("FlowLogIds"):
        return {"flow_log_id": answer["FlowLogIds"][0]}
    problems = [item.get("Error", {}) for item in answer.get("Unsuccessful", [])]
    if any(p.get("Code") == "FlowLogAlreadyExists" for p in problems):
        existing = _matching_flow_log(ec2, vpc_id=vpc_id, destination_type=destination_type, target=target)
        if existing:
            return {"flow_log_id": existing}
    detail = "; ".join(f"{p.get('Code')}: {p.get('Message')}" for p in problems) or "no flow log id returned"
    raise PermanentError(f"CreateFlowLogs: {detail}", code=str(problems[0].get("Code")) if problems else "FlowLogs")


def _matching_flow_log(ec2: Any, *, vpc_id: str, destination_type: str, target: Mapping[str, str]) -> str | None:
    for flow_log in _describe(
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


# --- dns -----------------------------------------------------------------------------------

DNS_DEFAULT_PARAMS: dict[str, Any] = {
    "zone_name": "{project_short_name}.{environment}.{dns_domain}",
}

_DNS_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def dns(context: StepContext) -> dict[str, Any]:
    """A private hosted zone for the account, associated with its VPC.

    Params (``DNS_DEFAULT_PARAMS``): ``zone_name`` (``"{project_short_name}.{environment}.
    {dns_domain}"``), a template over ``project_short_name`` (from the request's tags),
    ``environment``, ``dns_domain`` (the payer's), ``account_name``, ``region`` and ``payer``.

    Idempotent: the caller reference is derived from the request id, and before creating,
    private zones of that name are listed and the one with our caller reference or already
    associated with the VPC is reused (associated with the VPC if it is not yet).
    """
    request_id = context.require("request_id")
    region = context.require("region")
    vpc_id = context.require("vpc_id")
    params = _params(context, DNS_DEFAULT_PARAMS)
    zone_name = _zone_name(context, params["zone_name"])
    caller_reference = f"bespoke-{request_id}-dns"

    session = _member_session(context)
    route53 = cloud.client("route53", session=session, region=region)
    zone_id = _find_zone(route53, zone_name=zone_name, caller_reference=caller_reference, vpc_id=vpc_id)
    if zone_id is None:
        with cloud.aws_errors("CreateHostedZone", retryable_codes=NOT_YET):
            zone_id = route53.create_hosted_zone(
                Name=zone_name,
                VPC={"VPCRegion": region, "VPCId": vpc_id},
                CallerReference=caller_reference,
                HostedZoneConfig={"Comment": f"Bespoke request {request_id}", "PrivateZone": True},
            )["HostedZone"]["Id"]
    else:
        with cloud.aws_errors("GetHostedZone"):
            vpcs = route53.get_hosted_zone(Id=zone_id).get("VPCs", [])
        if not any(v.get("VPCId") == vpc_id for v in vpcs):
            with cloud.aws_errors("AssociateVPCWithHostedZone", retryable_codes=NOT_YET):
                route53.associate_vpc_with_hosted_zone(HostedZoneId=zone_id, VPC={"VPCRegion": region, "VPCId": vpc_id})
    short_id = str(zone_id).rsplit("/", 1)[-1]
    tags = [t for t in _tags(context, component="hosted-zone", name=zone_name) if t["Key"] != "Name"]
    with cloud.aws_errors("ChangeTagsForResource"):
        route53.change_tags_for_resource(ResourceType="hostedzone", ResourceId=short_id, AddTags=tags)
    return {"hosted_zone_id": short_id, "zone_name": zone_name}


def _zone_name(context: StepContext, template: str) -> str:
    inputs = context.inputs
    values = {
        "project_short_name": (inputs.get("tags") or {}).get("project_short_name", ""),
        "environment": inputs.get("environment", ""),
        "dns_domain": context.require("payer_settings").get("dns_domain", ""),
        "account_name": inputs.get("account_name", ""),
        "region": inputs.get("region", ""),
        "payer": inputs.get("payer", ""),
    }
    try:
        used = {field for _, field, _, _ in string.Formatter().parse(str(template)) if field is not None}
        name = str(template).format(**values).strip().rstrip(".").lower()
    except (KeyError, IndexError, ValueError) as error:
        raise _invalid(context, f"zone_name {template!r} names an unknown value: {error}.") from None
    empty = sorted(field for field in used if not values.get(field))
    if empty:
        raise PermanentError(
            f"The zone name {template!r} needs {', '.join(empty)}, which this request has empty "
            "(is the payer's dns_domain set?).",
            code="invalid_zone_name",
        )
    labels = name.split(".")
    if len(labels) < 2 or not all(_DNS_LABEL.match(label) for label in labels):
        raise PermanentError(f"{name!r} is not a valid DNS zone name.", code="invalid_zone_name")
    return name


def _find_zone(route53: Any, *, zone_name: str, caller_reference: str, vpc_id: str) -> str | None:
    with cloud.aws_errors("ListHostedZonesByName"):
        zones = route53.list_hosted_zones_by_name(DNSName=zone_name, MaxItems="100")["HostedZones"]
    candidates = [z for z in zones if z["Name"].rstrip(".") == zone_name and z.get("Config", {}).get("PrivateZone")]
    for zone in candidates:
        if zone.get("CallerReference") == caller_reference:
            return str(zone["Id"])
    for zone in candidates:
        with cloud.aws_errors("GetHostedZone"):
            vpcs = route53.get_hosted_zone(Id=zone["Id"]).get("VPCs", [])
        if any(v.get("VPCId") == vpc_id for v in vpcs):
            return str(zone["Id"])
    return None


# --- direct_connect ------------------------------------------------------------------------

DIRECT_CONNECT_DEFAULT_PARAMS: dict[str, Any] = {
    "connection_id": None,  # required: the payer's Direct Connect connection (dxcon-…)
    "vlan": None,  # required
    "asn": None,  # required: the customer side's BGP ASN
    "amazon_address": None,
    "customer_address": None,
    "address_family": "ipv4",
    "auth_key": None,
    "amazon_side_asn": None,  # the virtual private gateway's ASN; None: Amazon's default
    "virtual_interface_name": None,  # None: the account name
    "propagate_routes": True,
}

_GONE = frozenset({"deleting", "deleted", "rejected"})


def _directconnect_clients(context: StepContext) -> tuple[Any, Any]:
    """(the payer's management account, the member account) Direct Connect clients: the
    connection's owner allocates the interface, the member account confirms it."""
    payer_settings = context.require("payer_settings")
    region = context.require("region")
    management = cloud.management_session(role_arn=payer_settings.get("management_role_arn") or None)
    return (
        cloud.client("directconnect", session=management, region=region),
        cloud.client("directconnect", session=_member_session(context), region=region),
    )


def _direct_connect_required(params: Mapping[str, Any]) -> None:
    missing = [key for key in ("connection_id", "vlan", "asn") if params[key] in (None, "")]
    if missing:
        raise _invalid("direct_connect", f"the blueprint must give {', '.join(missing)}.")


def direct_connect(context: StepContext) -> dict[str, Any]:
    """A private virtual interface from the payer's Direct Connect connection to the VPC:
    a virtual private gateway in the member account attached to the VPC, the interface
    allocated by the connection's owner (the payer's management account) to the member
    account, and confirmed there onto the gateway.

    Params (``DIRECT_CONNECT_DEFAULT_PARAMS``): ``connection_id``, ``vlan``, ``asn``
    (required); ``amazon_address``, ``customer_address``, ``auth_key`` (optional; AWS picks
    peer addresses when absent); ``address_family`` (``"ipv4"``); ``amazon_side_asn`` (the
    gateway's ASN, Amazon's default when absent); ``virtual_interface_name`` (the account
    name); ``propagate_routes`` (``True``: the VPC's route tables learn the gateway's routes).

    Idempotent: the gateway is looked up by its tags and attached only if it is not; the
    connection's interfaces are described and one with the same VLAN owned by the member
    account is reused instead of allocating another; it is confirmed only while it is
    still ``confirming``; route propagation is enabled only where missing.
    """
    region = context.require("region")
    vpc_id = context.require("vpc_id")
    account_id = context.require("account_id")
    params = _params(context, DIRECT_CONNECT_DEFAULT_PARAMS)
    _direct_connect_required(params)
    vlan, asn = int(params["vlan"]), int(params["asn"])
    name = str(context.inputs.get("account_name") or context.require("request_id"))

    ec2 = cloud.client("ec2", session=_member_session(context), region=region)
    gateway_id = _ensure_vpn_gateway(context, ec2, vpc_id=vpc_id, amazon_side_asn=params["amazon_side_asn"], name=name)
    if params["propagate_routes"]:
        _propagate_routes(ec2, route_table_ids=list(context.inputs.get("route_table_ids") or []), gateway_id=gateway_id)

    management_dx, member_dx = _directconnect_clients(context)
    interface = _find_interface(management_dx, connection_id=params["connection_id"], vlan=vlan, owner=account_id)
    if interface is None:
        allocation: dict[str, Any] = {
            "virtualInterfaceName": str(params["virtual_interface_name"] or name),
            "vlan": vlan,
            "asn": asn,
            "addressFamily": params["address_family"],
            "tags": [
                {"key": t["Key"], "value": t["Value"]} for t in _tags(context, component="virtual-interface", name=name)
            ],
        }
        for param, field in (
            ("amazon_address", "amazonAddress"),
            ("customer_address", "customerAddress"),
            ("auth_key", "authKey"),
        ):
            if params[param]:
                allocation[field] = params[param]
        with cloud.aws_errors("AllocatePrivateVirtualInterface"):
            interface = management_dx.allocate_private_virtual_interface(
                connectionId=params["connection_id"],
                ownerAccount=account_id,
                newPrivateVirtualInterfaceAllocation=allocation,
            )
    interface_id = str(interface["virtualInterfaceId"])
    if interface.get("virtualInterfaceState") == "confirming":
        with cloud.aws_errors("ConfirmPrivateVirtualInterface", retryable_codes=NOT_YET):
            member_dx.confirm_private_virtual_interface(virtualInterfaceId=interface_id, virtualGatewayId=gateway_id)
    elif interface.get("virtualGatewayId") not in (None, "", gateway_id):
        raise PermanentError(
            f"Virtual interface {interface_id} is attached to gateway {interface['virtualGatewayId']}, "
            f"not {gateway_id}.",
            code="virtual_interface_mismatch",
        )
    return {"virtual_interface_id": interface_id, "virtual_gateway_id": gateway_id}


def _ensure_vpn_gateway(context: StepContext, ec2: Any, *, vpc_id: str, amazon_side_asn: Any, name: str) -> str:
    found = _describe(
        ec2.describe_vpn_gateways,
        "VpnGateways",
        "DescribeVpnGateways",
        Filters=[*_ours(context, "vpn-gateway"), {"Name": "state", "Values": ["pending", "available"]}],
    )
    if found:
        gateway = found[0]
    else:
        extra = {"AmazonSideAsn": int(amazon_side_asn)} if amazon_side_asn else {}
        tags = _tags(context, component="vpn-gateway", name=name)
        with cloud.aws_errors("CreateVpnGateway"):
            gateway = ec2.create_vpn_gateway(Type="ipsec.1", TagSpecifications=_tag_spec("vpn-gateway", tags), **extra)[
                "VpnGateway"
            ]
    gateway_id: str = gateway["VpnGatewayId"]
    attached = any(
        a.get("VpcId") == vpc_id and a.get("State") in ("attaching", "attached")
        for a in gateway.get("VpcAttachments", [])
    )
    if not attached:
        with cloud.aws_errors("AttachVpnGateway", retryable_codes=NOT_YET):
            ec2.attach_vpn_gateway(VpcId=vpc_id, VpnGatewayId=gateway_id)
    return gateway_id


def _propagate_routes(ec2: Any, *, route_table_ids: list[str], gateway_id: str) -> None:
    if not route_table_ids:
        return
    for table in _describe(
        ec2.describe_route_tables, "RouteTables", "DescribeRouteTables", RouteTableIds=route_table_ids
    ):
        if not any(p.get("GatewayId") == gateway_id for p in table.get("PropagatingVgws", [])):
            with cloud.aws_errors("EnableVgwRoutePropagation", retryable_codes=NOT_YET):
                ec2.enable_vgw_route_propagation(RouteTableId=table["RouteTableId"], GatewayId=gateway_id)


def _find_interface(dx: Any, *, connection_id: str, vlan: int, owner: str) -> dict[str, Any] | None:
    with cloud.aws_errors("DescribeVirtualInterfaces"):
        interfaces = dx.describe_virtual_interfaces(connectionId=connection_id)["virtualInterfaces"]
    for interface in interfaces:
        if (
            interface.get("vlan") == vlan
            and interface.get("ownerAccount") == owner
            and interface.get("virtualInterfaceType", "private") == "private"
            and interface.get("virtualInterfaceState") not in _GONE
        ):
            return dict(interface)
    return None


_DEFAULTS: dict[str, Mapping[str, Any]] = {
    "vpc": VPC_DEFAULT_PARAMS,
    "flow_logs": FLOW_LOGS_DEFAULT_PARAMS,
    "dns": DNS_DEFAULT_PARAMS,
    "direct_connect": DIRECT_CONNECT_DEFAULT_PARAMS,
}

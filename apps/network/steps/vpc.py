"""The ``vpc`` step: the VPC carved from the payer's IP pool, its subnets, gateways and
route tables, and the default VPCs deleted."""

from ipaddress import IPv4Network
from typing import Any

from apps.cloud import api as cloud
from apps.kernel.errors import PermanentError, RetryableError
from apps.kernel.steps import StepContext
from apps.kernel.steptools import aws_tags, request_regions
from apps.network.services import cidrs_allocate
from apps.network.steps.aws import NOT_YET, described, ours, tag_spec, tag_value
from apps.network.steps.params import VPC_DEFAULT_PARAMS, vpc_tiers

TIER_TAG = "bespoke:tier"

# AWS's smallest subnet.
SMALLEST_SUBNET_PREFIX = 28


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
    """Carve a CIDR from the payer's IP pool in each of the request's regions and build a
    VPC there in the member account: DNS support and hostnames, one subnet per availability
    zone and tier, an internet gateway, a NAT gateway, route tables (public → internet
    gateway, the other tiers → NAT gateway), and delete the default VPCs.

    Params (``VPC_DEFAULT_PARAMS``):
      ``tiers`` (``["public", "private"]``): subnet tiers; the ``public`` tier routes to the
      internet gateway, every other tier to the NAT gateway.
      ``nat`` (``"single"``): ``"single"`` — one NAT gateway with an Elastic IP in the first
      public subnet; ``"none"`` — no NAT gateway, the other tiers have no default route.
      ``delete_default_vpcs_in`` (``None``, meaning the request's regions): regions whose
      default VPC is deleted (its internet gateway and subnets first).

    The CIDRs of every region are allocated together before anything is built, all or
    nothing: one region's pool exhausted leaves no block taken in the others. Outputs: the
    primary region's VPC at the top level (``vpc_id``, ``cidr``, …, what later steps and
    older readers use) and every region's under ``vpcs`` (by region).

    Idempotent: the allocations are per request and region (a second call returns the same
    blocks); every resource carries ``bespoke:request-id`` and ``bespoke:component`` tags
    (plus ``bespoke:tier`` for subnets and route tables) and is looked up by them before it
    is created; routes and associations are only added when missing; the NAT gateway uses a
    client token; default VPCs already gone are not looked for again. Inside a VPC this call
    created nothing is looked up: it cannot hold anything yet. If the step fails,
    the blocks stay allocated until the run fails (``on_run_failed`` releases them).
    """
    request_id = context.require("request_id")
    regions = request_regions(context.inputs)
    wanted = context.require("vpc")
    params = context.params(VPC_DEFAULT_PARAMS)
    tiers = vpc_tiers(params)
    delete_in = params["delete_default_vpcs_in"]
    if delete_in is None:
        delete_in = regions

    session = cloud.member_session_of(context.inputs)
    ec2s = {region: cloud.client("ec2", session=session, region=region) for region in regions}
    found = {
        region: described(ec2.describe_vpcs, "Vpcs", f"DescribeVpcs({region})", Filters=ours(context, "vpc"))
        for region, ec2 in ec2s.items()
    }
    cidrs = cidrs_allocate(
        payer=context.require("payer"),
        regions=regions,
        request_id=request_id,
        prefix_length=int(wanted["prefix_length"]),
        existing={region: vpcs[0]["CidrBlock"] for region, vpcs in found.items() if vpcs},
    )
    vpcs = {
        region: _build(
            context,
            ec2s[region],
            region=region,
            cidr=cidrs[region],
            existing_vpc_id=found[region][0]["VpcId"] if found[region] else None,
            az_count=int(wanted["az_count"]),
            tiers=tiers,
            nat=params["nat"],
        )
        for region in regions
    }
    for default_region in delete_in:
        _delete_default_vpc(cloud.client("ec2", session=session, region=default_region), region=default_region)
    return {**vpcs[regions[0]], "vpcs": vpcs}


def _build(
    context: StepContext,
    ec2: Any,
    *,
    region: str,
    cidr: str,
    existing_vpc_id: str | None,
    az_count: int,
    tiers: list[str],
    nat: str,
) -> dict[str, Any]:
    """The VPC of one region, from its VPC on (what ``vpc`` outputs for the region)."""
    name = str(context.inputs.get("account_name") or context.require("request_id"))
    vpc_id = existing_vpc_id
    # A VPC made by this call holds nothing yet: what lives inside it (subnets, route
    # tables, the NAT gateway in its subnet) is not looked up before being created.
    new = vpc_id is None
    if vpc_id is None:
        with cloud.aws_errors("CreateVpc"):
            vpc_id = ec2.create_vpc(
                CidrBlock=cidr, TagSpecifications=tag_spec("vpc", aws_tags(context.inputs, component="vpc", name=name))
            )["Vpc"]["VpcId"]
    with cloud.aws_errors("ModifyVpcAttribute", retryable_codes=NOT_YET):
        if not new:  # a new VPC has DNS support on (AWS's default); an existing one may not
            ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsSupport={"Value": True})
        ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})

    zones = _availability_zones(ec2, az_count, region=region)
    subnets = _ensure_subnets(
        context, ec2, vpc_id=vpc_id, layout=subnet_layout(cidr, zones, tiers), name=name, look_up=not new
    )
    internet_gateway_id = _ensure_internet_gateway(context, ec2, vpc_id=vpc_id, name=name)
    nat_gateway_id = None
    if nat == "single":
        first_public = next(s for s in subnets if s["tier"] == "public")
        nat_gateway_id = _ensure_nat_gateway(context, ec2, subnet_id=first_public["id"], name=name, look_up=not new)
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
            look_up=not new,
        )
        for tier in tiers
    ]
    return {
        "vpc_id": vpc_id,
        "cidr": cidr,
        "subnets": subnets,
        "internet_gateway_id": internet_gateway_id,
        "nat_gateway_id": nat_gateway_id,
        "route_table_ids": route_table_ids,
    }


def _availability_zones(ec2: Any, count: int, *, region: str) -> list[str]:
    zones = described(
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
    context: StepContext, ec2: Any, *, vpc_id: str, layout: list[tuple[str, str, str]], name: str, look_up: bool = True
) -> list[dict[str, str]]:
    existing = {
        (tag_value(subnet, TIER_TAG), subnet["AvailabilityZone"]): subnet
        for subnet in (
            described(
                ec2.describe_subnets,
                "Subnets",
                "DescribeSubnets",
                Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, *ours(context, "subnet")],
            )
            if look_up
            else []
        )
    }
    subnets = []
    for tier, zone, cidr in layout:
        subnet = existing.get((tier, zone))
        if subnet is None:
            tags = aws_tags(context.inputs, component="subnet", name=f"{name}-{tier}-{zone}", extra={TIER_TAG: tier})
            with cloud.aws_errors("CreateSubnet", retryable_codes=NOT_YET):
                subnet = ec2.create_subnet(
                    VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=zone, TagSpecifications=tag_spec("subnet", tags)
                )["Subnet"]
        elif subnet["CidrBlock"] != cidr:
            raise PermanentError(
                f"Subnet {subnet['SubnetId']} ({tier}, {zone}) has {subnet['CidrBlock']}, not {cidr}.",
                code="subnet_mismatch",
            )
        subnets.append({"id": subnet["SubnetId"], "az": zone, "tier": tier, "cidr": cidr})
    return subnets


def _ensure_internet_gateway(context: StepContext, ec2: Any, *, vpc_id: str, name: str) -> str:
    found = described(
        ec2.describe_internet_gateways,
        "InternetGateways",
        "DescribeInternetGateways",
        Filters=ours(context, "internet-gateway"),
    )
    if found:
        gateway = found[0]
    else:
        tags = aws_tags(context.inputs, component="internet-gateway", name=name)
        with cloud.aws_errors("CreateInternetGateway"):
            gateway = ec2.create_internet_gateway(TagSpecifications=tag_spec("internet-gateway", tags))[
                "InternetGateway"
            ]
    gateway_id: str = gateway["InternetGatewayId"]
    if not any(a.get("VpcId") == vpc_id for a in gateway.get("Attachments", [])):
        with cloud.aws_errors("AttachInternetGateway", retryable_codes=NOT_YET):
            ec2.attach_internet_gateway(InternetGatewayId=gateway_id, VpcId=vpc_id)
    return gateway_id


def _ensure_nat_gateway(context: StepContext, ec2: Any, *, subnet_id: str, name: str, look_up: bool = True) -> str:
    found = (
        described(
            ec2.describe_nat_gateways,
            "NatGateways",
            "DescribeNatGateways",
            Filter=[*ours(context, "nat-gateway"), {"Name": "state", "Values": ["pending", "available"]}],
        )
        if look_up
        else []
    )
    if found:
        gateway = found[0]
    else:
        addresses = described(
            ec2.describe_addresses, "Addresses", "DescribeAddresses", Filters=ours(context, "nat-address")
        )
        if addresses:
            allocation_id = addresses[0]["AllocationId"]
        else:
            tags = aws_tags(context.inputs, component="nat-address", name=name)
            with cloud.aws_errors("AllocateAddress"):
                allocation_id = ec2.allocate_address(Domain="vpc", TagSpecifications=tag_spec("elastic-ip", tags))[
                    "AllocationId"
                ]
        tags = aws_tags(context.inputs, component="nat-gateway", name=name)
        with cloud.aws_errors("CreateNatGateway", retryable_codes=NOT_YET):
            gateway = ec2.create_nat_gateway(
                SubnetId=subnet_id,
                AllocationId=allocation_id,
                ClientToken=f"{context.require('request_id')}-nat",
                TagSpecifications=tag_spec("natgateway", tags),
            )["NatGateway"]
    if gateway["State"] in ("failed", "deleting", "deleted"):
        raise PermanentError(
            f"NAT gateway {gateway['NatGatewayId']} is {gateway['State']}: {gateway.get('FailureMessage', '')}",
            code=str(gateway.get("FailureCode") or "nat_gateway_failed"),
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
    look_up: bool = True,
) -> str:
    found = (
        described(
            ec2.describe_route_tables,
            "RouteTables",
            "DescribeRouteTables",
            Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, *ours(context, "route-table", **{TIER_TAG: tier})],
        )
        if look_up
        else []
    )
    if found:
        table = found[0]
    else:
        tags = aws_tags(context.inputs, component="route-table", name=f"{name}-{tier}", extra={TIER_TAG: tier})
        with cloud.aws_errors("CreateRouteTable", retryable_codes=NOT_YET):
            table = ec2.create_route_table(VpcId=vpc_id, TagSpecifications=tag_spec("route-table", tags))["RouteTable"]
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
    for default in described(
        ec2.describe_vpcs, "Vpcs", f"DescribeVpcs({region})", Filters=[{"Name": "isDefault", "Values": ["true"]}]
    ):
        vpc_id = default["VpcId"]
        for gateway in described(
            ec2.describe_internet_gateways,
            "InternetGateways",
            f"DescribeInternetGateways({region})",
            Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}],
        ):
            with cloud.aws_errors(f"DeleteInternetGateway({region})"):
                ec2.detach_internet_gateway(InternetGatewayId=gateway["InternetGatewayId"], VpcId=vpc_id)
                ec2.delete_internet_gateway(InternetGatewayId=gateway["InternetGatewayId"])
        for subnet in described(
            ec2.describe_subnets,
            "Subnets",
            f"DescribeSubnets({region})",
            Filters=[{"Name": "vpc-id", "Values": [vpc_id]}],
        ):
            with cloud.aws_errors(f"DeleteSubnet({region})"):
                ec2.delete_subnet(SubnetId=subnet["SubnetId"])
        with cloud.aws_errors(f"DeleteVpc({region})"):
            ec2.delete_vpc(VpcId=vpc_id)

"""The ``vpc`` step against emulated AWS over a socket: the VPC in the member account,
carved from the payer's IP pool, its subnets, gateways and routes, the default VPCs gone,
and nothing new when it runs again."""

from collections.abc import Callable
from ipaddress import IPv4Network
from typing import Any

import pytest
from botocore.stub import Stubber

from apps.cloud import api as cloud
from apps.kernel.errors import PermanentError, RetryableError
from apps.kernel.steps import StepContext
from apps.network import api as network
from apps.network.models import Allocation
from apps.network.steps import vpc as vpc_step
from tests.conftest import EmulatedAws

pytestmark = pytest.mark.django_db

REQUEST_ID = "11111111-1111-4111-8111-111111111111"
MakeContext = Callable[..., StepContext]


@pytest.fixture
def demo_pool(db: None) -> network.IpPoolSummary:
    return network.pool_create(payer="demo", region="us-east-1", cidr="10.64.0.0/16")


def ec2_in(aws: EmulatedAws, account_id: str | None, region: str = "us-east-1") -> Any:
    """EC2 in ``account_id`` (through its role) or, with ``None``, in the management account."""
    if account_id is None:
        return aws.client("ec2", region=region)
    creds = aws.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole", RoleSessionName="test"
    )["Credentials"]
    return aws.client(
        "ec2",
        region=region,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )


def inventory(ec2: Any) -> dict[str, list[str]]:
    """Ids of every VPC resource the step makes, by kind."""
    return {
        "vpcs": sorted(v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]),
        "subnets": sorted(s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]),
        "internet_gateways": sorted(
            g["InternetGatewayId"] for g in ec2.describe_internet_gateways()["InternetGateways"]
        ),
        "nat_gateways": sorted(
            g["NatGatewayId"]
            for g in ec2.describe_nat_gateways()["NatGateways"]
            if g["State"] in ("pending", "available")
        ),
        "addresses": sorted(a["AllocationId"] for a in ec2.describe_addresses()["Addresses"]),
        "route_tables": sorted(t["RouteTableId"] for t in ec2.describe_route_tables()["RouteTables"]),
    }


def default_vpcs(ec2: Any) -> list[str]:
    return [v["VpcId"] for v in ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"]]


def test_the_vpc_is_built_in_the_member_account_from_the_pool(
    aws: EmulatedAws, step_context: MakeContext, member_account: str, demo_pool: network.IpPoolSummary
) -> None:
    management = ec2_in(aws, None)
    management_before = inventory(management)

    outputs = vpc_step.vpc(step_context("vpc"))

    member = ec2_in(aws, member_account)
    assert outputs["cidr"] == "10.64.0.0/24"
    assert Allocation.objects.get(request_id=REQUEST_ID).cidr == "10.64.0.0/24"
    [vpc] = member.describe_vpcs(VpcIds=[outputs["vpc_id"]])["Vpcs"]
    assert vpc["CidrBlock"] == "10.64.0.0/24"
    tags = {t["Key"]: t["Value"] for t in vpc["Tags"]}
    assert tags["bespoke:request-id"] == REQUEST_ID
    assert tags["Name"] == "demo-msfp-dev"
    for attribute in ("enableDnsSupport", "enableDnsHostnames"):
        answer = member.describe_vpc_attribute(VpcId=vpc["VpcId"], Attribute=attribute)
        assert answer[attribute[0].upper() + attribute[1:]]["Value"] is True

    # Exactly what the step made lives in the member account: one VPC (the default is gone),
    # its four subnets, one internet gateway, one NAT gateway and its address, and the main
    # route table plus one per tier.
    made = inventory(member)
    assert made["vpcs"] == [outputs["vpc_id"]]
    assert made["subnets"] == sorted(s["id"] for s in outputs["subnets"])
    assert made["internet_gateways"] == [outputs["internet_gateway_id"]]
    assert made["nat_gateways"] == [outputs["nat_gateway_id"]]
    assert len(made["addresses"]) == 1
    assert len(made["route_tables"]) == 3
    assert set(outputs["route_table_ids"]) < set(made["route_tables"])
    # ...and nothing in the management account.
    assert inventory(management) == management_before


def test_subnets_are_spread_over_zones_and_tiers(
    aws: EmulatedAws, step_context: MakeContext, member_account: str, demo_pool: network.IpPoolSummary
) -> None:
    outputs = vpc_step.vpc(step_context("vpc"))

    member = ec2_in(aws, member_account)
    zones = sorted(z["ZoneName"] for z in member.describe_availability_zones()["AvailabilityZones"])[:2]
    assert [(s["tier"], s["az"], s["cidr"]) for s in outputs["subnets"]] == [
        ("public", zones[0], "10.64.0.0/26"),
        ("public", zones[1], "10.64.0.64/26"),
        ("private", zones[0], "10.64.0.128/26"),
        ("private", zones[1], "10.64.0.192/26"),
    ]
    actual = {
        s["SubnetId"]: s
        for s in member.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [outputs["vpc_id"]]}])["Subnets"]
    }
    for subnet in outputs["subnets"]:
        assert (actual[subnet["id"]]["CidrBlock"], actual[subnet["id"]]["AvailabilityZone"]) == (
            subnet["cidr"],
            subnet["az"],
        )


@pytest.mark.parametrize(
    ("az_count", "prefix_length", "subnet_prefix"),
    [(2, 24, 26), (3, 24, 27), (2, 23, 25), (3, 23, 26)],
)
def test_subnet_count_and_size_follow_the_zones_and_the_prefix(
    aws: EmulatedAws,
    step_context: MakeContext,
    member_account: str,
    demo_pool: network.IpPoolSummary,
    az_count: int,
    prefix_length: int,
    subnet_prefix: int,
) -> None:
    outputs = vpc_step.vpc(step_context("vpc", vpc={"az_count": az_count, "prefix_length": prefix_length}))

    subnets = ec2_in(aws, member_account).describe_subnets(Filters=[{"Name": "vpc-id", "Values": [outputs["vpc_id"]]}])[
        "Subnets"
    ]
    assert len(subnets) == 2 * az_count
    assert {IPv4Network(s["CidrBlock"]).prefixlen for s in subnets} == {subnet_prefix}
    assert len({s["AvailabilityZone"] for s in subnets}) == az_count
    vpc_block = IPv4Network(outputs["cidr"])
    assert vpc_block.prefixlen == prefix_length
    blocks = [IPv4Network(s["CidrBlock"]) for s in subnets]
    assert all(b.subnet_of(vpc_block) for b in blocks)
    assert len(set(blocks)) == len(blocks)


def test_public_subnets_route_to_the_internet_gateway_and_private_ones_to_the_nat_gateway(
    aws: EmulatedAws, step_context: MakeContext, member_account: str, demo_pool: network.IpPoolSummary
) -> None:
    outputs = vpc_step.vpc(step_context("vpc"))

    member = ec2_in(aws, member_account)
    [igw] = member.describe_internet_gateways(InternetGatewayIds=[outputs["internet_gateway_id"]])["InternetGateways"]
    assert igw["Attachments"][0]["VpcId"] == outputs["vpc_id"]
    [nat] = member.describe_nat_gateways(NatGatewayIds=[outputs["nat_gateway_id"]])["NatGateways"]
    first_public = next(s for s in outputs["subnets"] if s["tier"] == "public")
    assert nat["SubnetId"] == first_public["id"]
    assert nat["NatGatewayAddresses"][0]["AllocationId"]

    tables = member.describe_route_tables(RouteTableIds=outputs["route_table_ids"])["RouteTables"]
    route_for = {}
    for table in tables:
        default = next(r for r in table["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0")
        for association in table["Associations"]:
            route_for[association["SubnetId"]] = default.get("GatewayId") or default.get("NatGatewayId")
    assert route_for == {
        s["id"]: outputs["internet_gateway_id"] if s["tier"] == "public" else outputs["nat_gateway_id"]
        for s in outputs["subnets"]
    }


def test_without_nat_private_subnets_have_no_default_route(
    aws: EmulatedAws, step_context: MakeContext, member_account: str, demo_pool: network.IpPoolSummary
) -> None:
    outputs = vpc_step.vpc(step_context("vpc", step_params={"nat": "none", "tiers": ["public", "private", "data"]}))

    member = ec2_in(aws, member_account)
    assert outputs["nat_gateway_id"] is None
    assert member.describe_nat_gateways()["NatGateways"] == []
    assert member.describe_addresses()["Addresses"] == []
    assert len(outputs["subnets"]) == 6
    assert {IPv4Network(s["cidr"]).prefixlen for s in outputs["subnets"]} == {27}  # 6 subnets → 8 slots
    tables = member.describe_route_tables(RouteTableIds=outputs["route_table_ids"])["RouteTables"]
    defaults = {
        t["RouteTableId"]: [r for r in t["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0"] for t in tables
    }
    public_table, *other_tables = outputs["route_table_ids"]
    assert defaults[public_table][0]["GatewayId"] == outputs["internet_gateway_id"]
    assert all(defaults[t] == [] for t in other_tables)


def test_default_vpcs_are_deleted_in_the_listed_regions_only(
    aws: EmulatedAws, step_context: MakeContext, member_account: str, demo_pool: network.IpPoolSummary
) -> None:
    listed = ["us-east-1", "us-west-2"]
    assert all(default_vpcs(ec2_in(aws, member_account, region)) for region in [*listed, "eu-west-1"])

    vpc_step.vpc(step_context("vpc", step_params={"delete_default_vpcs_in": listed}))

    assert [default_vpcs(ec2_in(aws, member_account, region)) for region in listed] == [[], []]
    assert default_vpcs(ec2_in(aws, member_account, "eu-west-1"))  # not listed: kept
    assert default_vpcs(ec2_in(aws, None, "us-east-1"))  # the management account's: untouched
    remaining = ec2_in(aws, member_account, "us-west-2")
    assert remaining.describe_subnets()["Subnets"] == []
    assert remaining.describe_internet_gateways()["InternetGateways"] == []


def test_running_the_step_again_creates_nothing_new(
    aws: EmulatedAws, step_context: MakeContext, member_account: str, demo_pool: network.IpPoolSummary
) -> None:
    first = vpc_step.vpc(step_context("vpc"))
    member = ec2_in(aws, member_account)
    made = inventory(member)

    second = vpc_step.vpc(step_context("vpc", attempt=2))

    assert second == first
    assert inventory(member) == made
    assert Allocation.objects.count() == 1


def test_a_vpc_left_by_an_attempt_whose_allocation_was_released_claims_its_block_again(
    aws: EmulatedAws, step_context: MakeContext, member_account: str, demo_pool: network.IpPoolSummary
) -> None:
    first = vpc_step.vpc(step_context("vpc"))
    network.cidr_release(request_id=REQUEST_ID)

    second = vpc_step.vpc(step_context("vpc", attempt=2))

    assert (second["vpc_id"], second["cidr"]) == (first["vpc_id"], first["cidr"])
    assert Allocation.objects.get(request_id=REQUEST_ID, state=Allocation.State.ALLOCATED).cidr == first["cidr"]


def test_without_a_pool_the_step_fails_for_good_and_builds_nothing(
    aws: EmulatedAws, step_context: MakeContext, member_account: str
) -> None:
    with pytest.raises(PermanentError) as raised:
        vpc_step.vpc(step_context("vpc"))

    assert raised.value.code == "no_ip_pool"
    assert default_vpcs(ec2_in(aws, member_account)) == [
        v["VpcId"] for v in ec2_in(aws, member_account).describe_vpcs()["Vpcs"]
    ]


def test_an_unknown_parameter_fails_for_good(step_context: MakeContext, demo_pool: network.IpPoolSummary) -> None:
    with pytest.raises(PermanentError) as raised:
        vpc_step.vpc(step_context("vpc", step_params={"tier": ["public"]}))
    assert raised.value.code == "invalid_step_params"


@pytest.mark.parametrize(
    ("cidr", "zones", "tiers", "expected"),
    [
        ("10.0.0.0/24", ["a"], ["public"], [("public", "a", "10.0.0.0/24")]),
        (
            "10.0.0.0/24",
            ["a", "b", "c"],
            ["public", "private"],
            [
                ("public", "a", "10.0.0.0/27"),
                ("public", "b", "10.0.0.32/27"),
                ("public", "c", "10.0.0.64/27"),
                ("private", "a", "10.0.0.96/27"),
                ("private", "b", "10.0.0.128/27"),
                ("private", "c", "10.0.0.160/27"),
            ],
        ),
    ],
)
def test_the_subnet_layout_is_deterministic(
    cidr: str, zones: list[str], tiers: list[str], expected: list[tuple[str, str, str]]
) -> None:
    assert vpc_step.subnet_layout(cidr, zones, tiers) == expected


def test_a_vpc_too_small_for_its_subnets_is_refused() -> None:
    with pytest.raises(PermanentError) as raised:
        vpc_step.subnet_layout("10.0.0.0/28", ["a", "b"], ["public", "private"])
    assert raised.value.code == "vpc_too_small"


@pytest.mark.parametrize(
    ("state", "error", "code"),
    [("pending", RetryableError, "nat_gateway_pending"), ("failed", PermanentError, "Gateway.NotAttached")],
)
def test_a_nat_gateway_not_yet_available_is_retried_and_a_failed_one_is_fatal(
    aws: EmulatedAws, state: str, error: type[Exception], code: str
) -> None:
    ec2 = cloud.client("ec2", region="us-east-1")
    context = StepContext(run_id="run-1", step="vpc", attempt=1, inputs={"request_id": REQUEST_ID, "tags": {}})
    gateway = {"NatGatewayId": "nat-1", "State": state, "FailureCode": "Gateway.NotAttached", "FailureMessage": "x"}
    with Stubber(ec2) as stub:
        stub.add_response("describe_nat_gateways", {"NatGateways": [gateway]})

        with pytest.raises(error) as raised:
            vpc_step._ensure_nat_gateway(context, ec2, subnet_id="subnet-1", name="demo")

        assert raised.value.code == code  # type: ignore[attr-defined]
        stub.assert_no_pending_responses()

"""A request that names several regions: a VPC in each (its own CIDR from that region's
pool, allocated all or nothing), flow logs and the private zone for each, AWS Config in
each, and ``verify``'s read-backs over every region — against emulated AWS over a socket."""

from collections.abc import Callable
from typing import Any

import pytest

from apps.baseline import readback as baseline_readback
from apps.baseline.steps import config as config_step
from apps.kernel.contracts import ReadBack
from apps.kernel.errors import PermanentError
from apps.kernel.steps import StepContext
from apps.network import api as network
from apps.network import readback
from apps.network.models import Allocation
from apps.network.services import cidrs_allocate
from apps.network.steps import dns as dns_step
from apps.network.steps import flow_logs as flow_logs_step
from apps.network.steps import vpc as vpc_step
from tests.conftest import EmulatedAws

pytestmark = pytest.mark.django_db

REQUEST_ID = "11111111-1111-4111-8111-111111111111"
REGIONS = ["us-east-1", "us-west-2"]
MakeContext = Callable[..., StepContext]


@pytest.fixture
def pools(db: None) -> None:
    network.pool_create(payer="demo", region="us-east-1", cidr="10.64.0.0/16")
    network.pool_create(payer="demo", region="us-west-2", cidr="10.96.0.0/16")


def member(aws: EmulatedAws, account_id: str, service: str, region: str) -> Any:
    creds = aws.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole", RoleSessionName="test"
    )["Credentials"]
    return aws.client(
        service,
        region=region,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )


def ours(ec2: Any) -> list[dict[str, Any]]:
    """The VPCs the request made (by its tag) in ``ec2``'s region."""
    return list(ec2.describe_vpcs(Filters=[{"Name": "tag:bespoke:request-id", "Values": [REQUEST_ID]}])["Vpcs"])


def live_blocks() -> dict[str, str]:
    return dict(Allocation.objects.filter(request_id=REQUEST_ID, state="allocated").values_list("region", "cidr"))


def test_two_regions_get_two_vpcs_two_cidrs_and_config_in_both(
    aws: EmulatedAws, step_context: MakeContext, member_account: str, pools: None
) -> None:
    made = vpc_step.vpc(step_context("vpc", regions=REGIONS))

    assert {region: vpc["cidr"] for region, vpc in made["vpcs"].items()} == {
        "us-east-1": "10.64.0.0/24",
        "us-west-2": "10.96.0.0/24",
    }
    assert live_blocks() == {"us-east-1": "10.64.0.0/24", "us-west-2": "10.96.0.0/24"}
    assert (made["vpc_id"], made["cidr"]) == (made["vpcs"]["us-east-1"]["vpc_id"], "10.64.0.0/24")  # the primary
    for region in REGIONS:
        [built] = ours(member(aws, member_account, "ec2", region))
        assert (built["VpcId"], built["CidrBlock"]) == (made["vpcs"][region]["vpc_id"], made["vpcs"][region]["cidr"])

    later = step_context("flow_logs", regions=REGIONS, **made)
    logged = flow_logs_step.flow_logs(later)
    zone = dns_step.dns(step_context("dns", regions=REGIONS, **made))
    configured = config_step.config(step_context("config", regions=REGIONS))

    for region in REGIONS:
        ec2 = member(aws, member_account, "ec2", region)
        vpc_id = made["vpcs"][region]["vpc_id"]
        [flow_log] = ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc_id]}])["FlowLogs"]
        assert logged["flow_logs"][region] == flow_log["FlowLogId"]
        config = member(aws, member_account, "config", region)
        [recorder] = config.describe_configuration_recorders()["ConfigurationRecorders"]
        assert recorder["name"] == configured["recorder_name"]
        assert config.describe_config_rules()["ConfigRules"]
    associated = member(aws, member_account, "route53", "us-east-1").get_hosted_zone(Id=zone["hosted_zone_id"])
    assert {v["VPCId"] for v in associated["VPCs"]} == {vpc["vpc_id"] for vpc in made["vpcs"].values()}
    assert configured["config_regions"] == REGIONS

    # verify reads every region back, and finds nothing wrong.
    inputs = {**later.inputs, **logged, **zone, "regions": REGIONS}
    check = ReadBack(inputs=inputs, params={}, expectations={})
    assert readback.vpc_problems(check) == []
    assert readback.flow_logs_problems(check) == []
    assert readback.dns_problems(check) == []
    assert baseline_readback.config_problems(check) == []

    # Again: nothing new anywhere.
    assert vpc_step.vpc(step_context("vpc", regions=REGIONS)) == made
    for region in REGIONS:
        assert len(ours(member(aws, member_account, "ec2", region))) == 1


def test_verify_names_the_region_whose_vpc_is_gone(
    aws: EmulatedAws, step_context: MakeContext, member_account: str, pools: None
) -> None:
    made = vpc_step.vpc(step_context("vpc", regions=REGIONS))
    west = member(aws, member_account, "ec2", "us-west-2")
    gone = made["vpcs"]["us-west-2"]["vpc_id"]
    made["vpcs"]["us-west-2"]["vpc_id"] = "vpc-0123456789abcdef0"

    problems = readback.vpc_problems(ReadBack(inputs=step_context("vpc", **made).inputs, params={}, expectations={}))

    assert problems == ["VPC vpc-0123456789abcdef0 does not exist in us-west-2"]
    assert ours(west)[0]["VpcId"] == gone


def test_one_regions_exhausted_pool_allocates_nothing_in_the_other(
    aws: EmulatedAws, step_context: MakeContext, member_account: str, db: None
) -> None:
    network.pool_create(payer="demo", region="us-east-1", cidr="10.64.0.0/16")
    network.pool_create(payer="demo", region="us-west-2", cidr="10.96.0.0/24")
    cidrs_allocate(payer="demo", regions=["us-west-2"], request_id="other", prefix_length=24)  # the whole pool

    with pytest.raises(PermanentError) as refused:
        vpc_step.vpc(step_context("vpc", regions=REGIONS))

    assert refused.value.code == "ip_pool_exhausted"
    assert "us-west-2" in refused.value.message
    assert live_blocks() == {}
    for region in REGIONS:
        assert ours(member(aws, member_account, "ec2", region)) == []


def test_blocks_are_allocated_all_or_nothing(db: None) -> None:
    network.pool_create(payer="demo", region="us-east-1", cidr="10.64.0.0/16")

    with pytest.raises(PermanentError) as refused:
        cidrs_allocate(payer="demo", regions=REGIONS, request_id=REQUEST_ID, prefix_length=24)

    assert refused.value.code == "no_ip_pool"
    assert live_blocks() == {}


def test_release_and_reclaim_cover_every_region(pools: None) -> None:
    blocks = cidrs_allocate(payer="demo", regions=REGIONS, request_id=REQUEST_ID, prefix_length=24)

    assert network.cidr_release(request_id=REQUEST_ID)
    assert live_blocks() == {}
    assert network.cidr_reclaim(request_id=REQUEST_ID) == blocks
    assert live_blocks() == blocks

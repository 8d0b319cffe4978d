"""The ``dns`` step against emulated AWS: a private hosted zone in the member account,
named after the project, environment and the payer's domain, associated with the VPC."""

from collections.abc import Callable
from typing import Any

import pytest

from apps.kernel.errors import PermanentError
from apps.kernel.steps import StepContext
from apps.network.steps import dns as dns_step
from tests.conftest import EmulatedAws

pytestmark = pytest.mark.django_db

MakeContext = Callable[..., StepContext]
ZONE = "msfp.dev.aws.example.com"


@pytest.fixture
def vpc_id(aws: EmulatedAws, member_account: str) -> str:
    ec2 = aws.member_client("ec2", account_id=member_account)
    return str(ec2.create_vpc(CidrBlock="10.64.0.0/24")["Vpc"]["VpcId"])


@pytest.fixture
def route53(aws: EmulatedAws, member_account: str) -> Any:
    return aws.member_client("route53", account_id=member_account)


def zones(route53: Any) -> list[dict[str, Any]]:
    return list(route53.list_hosted_zones()["HostedZones"])


def test_a_private_zone_for_the_account_is_associated_with_its_vpc(
    aws: EmulatedAws, step_context: MakeContext, vpc_id: str, route53: Any
) -> None:
    outputs = dns_step.dns(step_context("dns", vpc_id=vpc_id))

    [zone] = zones(route53)
    assert outputs == {"hosted_zone_id": zone["Id"].rsplit("/", 1)[-1], "zone_name": ZONE}
    assert zone["Name"] == f"{ZONE}."
    assert zone["Config"]["PrivateZone"] is True
    assert zone["CallerReference"] == "bespoke-11111111-1111-4111-8111-111111111111-dns"
    assert route53.get_hosted_zone(Id=zone["Id"])["VPCs"] == [{"VPCRegion": "us-east-1", "VPCId": vpc_id}]
    tags = route53.list_tags_for_resource(ResourceType="hostedzone", ResourceId=outputs["hosted_zone_id"])
    assert {"Key": "bespoke:request-id", "Value": "11111111-1111-4111-8111-111111111111"} in tags["ResourceTagSet"][
        "Tags"
    ]
    assert zones(aws.client("route53")) == []  # nothing in the management account


def test_the_zone_name_follows_the_template_in_the_params(step_context: MakeContext, vpc_id: str, route53: Any) -> None:
    outputs = dns_step.dns(step_context("dns", vpc_id=vpc_id, step_params={"zone_name": "{account_name}.{dns_domain}"}))

    assert outputs["zone_name"] == "demo-msfp-dev.aws.example.com"
    assert [z["Name"] for z in zones(route53)] == ["demo-msfp-dev.aws.example.com."]


def test_running_the_step_again_creates_no_second_zone(step_context: MakeContext, vpc_id: str, route53: Any) -> None:
    first = dns_step.dns(step_context("dns", vpc_id=vpc_id))
    second = dns_step.dns(step_context("dns", vpc_id=vpc_id, attempt=2))

    assert second == first
    assert len(zones(route53)) == 1


def test_a_zone_an_earlier_attempt_created_is_associated_with_the_vpc_if_it_is_not(
    aws: EmulatedAws, step_context: MakeContext, member_account: str, vpc_id: str, route53: Any
) -> None:
    # An earlier attempt made the zone on another VPC (say, before a VPC was rebuilt).
    other_vpc = aws.member_client("ec2", account_id=member_account).create_vpc(CidrBlock="10.65.0.0/24")["Vpc"]["VpcId"]
    route53.create_hosted_zone(
        Name=ZONE,
        CallerReference="bespoke-11111111-1111-4111-8111-111111111111-dns",
        VPC={"VPCRegion": "us-east-1", "VPCId": other_vpc},
        HostedZoneConfig={"Comment": "", "PrivateZone": True},
    )

    outputs = dns_step.dns(step_context("dns", vpc_id=vpc_id))

    [zone] = zones(route53)
    assert outputs["hosted_zone_id"] == zone["Id"].rsplit("/", 1)[-1]
    assert {v["VPCId"] for v in route53.get_hosted_zone(Id=zone["Id"])["VPCs"]} == {other_vpc, vpc_id}


def test_a_payer_without_a_dns_domain_fails_for_good(
    step_context: MakeContext, payer_settings: dict[str, str], vpc_id: str, route53: Any
) -> None:
    with pytest.raises(PermanentError) as raised:
        dns_step.dns(step_context("dns", vpc_id=vpc_id, payer_settings={**payer_settings, "dns_domain": ""}))

    assert raised.value.code == "invalid_zone_name"
    assert zones(route53) == []


def test_a_template_naming_an_unknown_value_fails_for_good(step_context: MakeContext, vpc_id: str) -> None:
    with pytest.raises(PermanentError) as raised:
        dns_step.dns(step_context("dns", vpc_id=vpc_id, step_params={"zone_name": "{team}.{dns_domain}"}))
    assert raised.value.code == "invalid_step_params"

"""The ``direct_connect`` step: the virtual private gateway in the member account (emulated
AWS), and the private virtual interface allocated by the payer's management account and
confirmed by the member account (moto lacks those APIs: botocore's Stubber answers)."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.stub import Stubber

from apps.cloud import api as cloud
from apps.kernel.errors import PermanentError
from apps.kernel.steps import StepContext
from apps.network.steps import direct_connect as direct_connect_step
from tests.conftest import EmulatedAws

pytestmark = pytest.mark.django_db

MakeContext = Callable[..., StepContext]
CONNECTION = "dxcon-fgabc123"
PARAMS = {
    "connection_id": CONNECTION,
    "vlan": 101,
    "asn": 65001,
    "amazon_address": "169.254.10.1/30",
    "customer_address": "169.254.10.2/30",
    # moto lacks EnableVgwRoutePropagation; test_routes_from_the_gateway_are_propagated covers it.
    "propagate_routes": False,
}


class Captured:
    """Matches any value in a Stubber's expected params and remembers it."""

    value: Any = None

    def __eq__(self, other: object) -> bool:
        self.value = other
        return True

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    __hash__ = None  # type: ignore[assignment]


@dataclass
class DirectConnect:
    management: Stubber
    member: Stubber


@pytest.fixture
def direct_connect(aws: EmulatedAws, monkeypatch: pytest.MonkeyPatch) -> Iterator[DirectConnect]:
    """The two Direct Connect clients the step uses, answering only what the test queued."""
    management = aws.client("directconnect")
    member = aws.client("directconnect")
    monkeypatch.setattr(direct_connect_step, "_directconnect_clients", lambda context: (management, member))
    with Stubber(management) as management_stub, Stubber(member) as member_stub:
        yield DirectConnect(management_stub, member_stub)
        management_stub.assert_no_pending_responses()
        member_stub.assert_no_pending_responses()


@pytest.fixture
def ec2(aws: EmulatedAws, member_account: str) -> Any:
    return aws.member_client("ec2", account_id=member_account)


@pytest.fixture
def vpc_id(ec2: Any) -> str:
    return str(ec2.create_vpc(CidrBlock="10.64.0.0/24")["Vpc"]["VpcId"])


def interface(member_account: str, *, state: str, vlan: int = 101, gateway: str = "", **extra: Any) -> dict[str, Any]:
    return {
        "virtualInterfaceId": "dxvif-ffabc123",
        "ownerAccount": member_account,
        "connectionId": CONNECTION,
        "virtualInterfaceType": "private",
        "virtualInterfaceName": "demo-msfp-dev",
        "vlan": vlan,
        "asn": 65001,
        "virtualInterfaceState": state,
        "virtualGatewayId": gateway,
        **extra,
    }


def expect_interfaces(direct_connect: DirectConnect, interfaces: list[dict[str, Any]]) -> None:
    direct_connect.management.add_response(
        "describe_virtual_interfaces", {"virtualInterfaces": interfaces}, {"connectionId": CONNECTION}
    )


def gateways(ec2: Any) -> list[dict[str, Any]]:
    return [g for g in ec2.describe_vpn_gateways()["VpnGateways"] if g["State"] in ("pending", "available")]


def test_an_interface_is_allocated_by_the_management_account_and_confirmed_by_the_member(
    aws: EmulatedAws,
    step_context: MakeContext,
    member_account: str,
    direct_connect: DirectConnect,
    ec2: Any,
    vpc_id: str,
) -> None:
    expect_interfaces(direct_connect, [])
    direct_connect.management.add_response(
        "allocate_private_virtual_interface",
        interface(member_account, state="confirming"),
        {
            "connectionId": CONNECTION,
            "ownerAccount": member_account,
            "newPrivateVirtualInterfaceAllocation": {
                "virtualInterfaceName": "demo-msfp-dev",
                "vlan": 101,
                "asn": 65001,
                "addressFamily": "ipv4",
                "amazonAddress": "169.254.10.1/30",
                "customerAddress": "169.254.10.2/30",
                "tags": Captured(),
            },
        },
    )
    confirmed_gateway = Captured()
    direct_connect.member.add_response(
        "confirm_private_virtual_interface",
        {"virtualInterfaceState": "pending"},
        {"virtualInterfaceId": "dxvif-ffabc123", "virtualGatewayId": confirmed_gateway},
    )

    outputs = direct_connect_step.direct_connect(step_context("direct_connect", vpc_id=vpc_id, step_params=PARAMS))

    [gateway] = gateways(ec2)
    assert outputs == {
        "virtual_interface_id": "dxvif-ffabc123",
        "virtual_gateway_id": gateway["VpnGatewayId"],
        "vlan": 101,
    }
    assert confirmed_gateway.value == gateway["VpnGatewayId"]
    assert gateway["VpcAttachments"] == [{"VpcId": vpc_id, "State": "attached"}]
    assert {"Key": "bespoke:request-id", "Value": "11111111-1111-4111-8111-111111111111"} in gateway["Tags"]
    assert gateways(aws.client("ec2")) == []  # the gateway lives in the member account


def test_running_the_step_again_reuses_the_gateway_and_the_interface(
    step_context: MakeContext, member_account: str, direct_connect: DirectConnect, ec2: Any, vpc_id: str
) -> None:
    expect_interfaces(direct_connect, [])
    direct_connect.management.add_response(
        "allocate_private_virtual_interface", interface(member_account, state="confirming")
    )
    direct_connect.member.add_response("confirm_private_virtual_interface", {"virtualInterfaceState": "pending"})
    first = direct_connect_step.direct_connect(step_context("direct_connect", vpc_id=vpc_id, step_params=PARAMS))

    # Second run: the interface is there, confirmed onto our gateway; no allocate, no confirm queued.
    expect_interfaces(
        direct_connect,
        [interface(member_account, state="available", gateway=first["virtual_gateway_id"])],
    )
    second = direct_connect_step.direct_connect(
        step_context("direct_connect", vpc_id=vpc_id, step_params=PARAMS, attempt=2)
    )

    assert second == first
    assert len(gateways(ec2)) == 1


def test_an_interface_allocated_by_an_attempt_whose_answer_was_lost_is_confirmed_not_allocated_again(
    step_context: MakeContext, member_account: str, direct_connect: DirectConnect, vpc_id: str
) -> None:
    expect_interfaces(
        direct_connect,
        [
            interface("999999999999", state="available", virtualInterfaceId="dxvif-other"),  # someone else's
            interface(member_account, state="deleted", vlan=101, virtualInterfaceId="dxvif-old"),  # gone
            interface(member_account, state="confirming"),
        ],
    )
    direct_connect.member.add_response("confirm_private_virtual_interface", {"virtualInterfaceState": "pending"})

    outputs = direct_connect_step.direct_connect(step_context("direct_connect", vpc_id=vpc_id, step_params=PARAMS))

    assert outputs["virtual_interface_id"] == "dxvif-ffabc123"


def test_an_interface_on_another_gateway_fails_for_good(
    step_context: MakeContext, member_account: str, direct_connect: DirectConnect, vpc_id: str
) -> None:
    expect_interfaces(direct_connect, [interface(member_account, state="available", gateway="vgw-someoneelse")])

    with pytest.raises(PermanentError) as raised:
        direct_connect_step.direct_connect(step_context("direct_connect", vpc_id=vpc_id, step_params=PARAMS))

    assert raised.value.code == "virtual_interface_mismatch"


def test_an_aws_refusal_keeps_its_error_code(
    step_context: MakeContext, direct_connect: DirectConnect, vpc_id: str
) -> None:
    expect_interfaces(direct_connect, [])
    direct_connect.management.add_client_error(
        "allocate_private_virtual_interface",
        service_error_code="DirectConnectClientException",
        service_message="VLAN 101 is already in use",
        http_status_code=400,
    )

    with pytest.raises(PermanentError) as raised:
        direct_connect_step.direct_connect(step_context("direct_connect", vpc_id=vpc_id, step_params=PARAMS))

    assert raised.value.code == "DirectConnectClientException"
    assert "VLAN 101" in raised.value.message


def test_the_connection_vlan_and_asn_are_required(step_context: MakeContext, vpc_id: str) -> None:
    with pytest.raises(PermanentError) as raised:
        direct_connect_step.direct_connect(step_context("direct_connect", vpc_id=vpc_id, step_params={"vlan": 101}))
    assert raised.value.code == "invalid_step_params"
    assert "connection_id" in raised.value.message
    assert "asn" in raised.value.message


def test_routes_from_the_gateway_are_propagated_where_missing(aws: EmulatedAws) -> None:
    ec2 = cloud.client("ec2", region="us-east-1")
    with Stubber(ec2) as stub:
        stub.add_response(
            "describe_route_tables",
            {
                "RouteTables": [
                    {"RouteTableId": "rtb-public", "PropagatingVgws": [{"GatewayId": "vgw-1"}]},
                    {"RouteTableId": "rtb-private", "PropagatingVgws": []},
                ]
            },
            {"RouteTableIds": ["rtb-public", "rtb-private"]},
        )
        stub.add_response("enable_vgw_route_propagation", {}, {"RouteTableId": "rtb-private", "GatewayId": "vgw-1"})

        direct_connect_step._propagate_routes(ec2, route_table_ids=["rtb-public", "rtb-private"], gateway_id="vgw-1")

        stub.assert_no_pending_responses()

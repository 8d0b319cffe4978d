"""The ``direct_connect`` step: a private virtual interface from the payer's Direct
Connect connection to the request's VPC."""

from typing import Any

from apps.cloud import api as cloud
from apps.kernel.errors import PermanentError
from apps.kernel.steps import StepContext
from apps.kernel.steptools import aws_tags
from apps.network.steps.aws import NOT_YET, described, ours, tag_spec
from apps.network.steps.params import DIRECT_CONNECT_DEFAULT_PARAMS, direct_connect_required
from apps.network.vlans import vlan_allocate

_GONE = frozenset({"deleting", "deleted", "rejected"})


def _directconnect_clients(context: StepContext) -> tuple[Any, Any]:
    """(the payer's management account, the member account) Direct Connect clients: the
    connection's owner allocates the interface, the member account confirms it."""
    region = context.require("region")
    return (
        cloud.client("directconnect", session=cloud.management_session_of(context.inputs), region=region),
        cloud.client("directconnect", session=cloud.member_session_of(context.inputs), region=region),
    )


def direct_connect(context: StepContext) -> dict[str, Any]:
    """A private virtual interface from the payer's Direct Connect connection to the VPC:
    a virtual private gateway in the member account attached to the VPC, the interface
    allocated by the connection's owner (the payer's management account) to the member
    account, and confirmed there onto the gateway.

    Params (``DIRECT_CONNECT_DEFAULT_PARAMS``): ``connection_id``, ``asn`` (required);
    ``vlan`` (``None``: the request's VLAN from the connection's VLAN pool, allocated like a
    CIDR block and given back when the run fails; a number: that VLAN);
    ``amazon_address``, ``customer_address``, ``auth_key`` (optional; AWS picks peer
    addresses when absent); ``address_family`` (``"ipv4"``); ``amazon_side_asn`` (the
    gateway's ASN, Amazon's default when absent); ``virtual_interface_name`` (the account
    name); ``propagate_routes`` (``True``: the VPC's route tables learn the gateway's routes).

    Idempotent: the VLAN allocation is per request (asking again returns it); the gateway
    is looked up by its tags and attached only if it is not; the connection's interfaces
    are described and one with the same VLAN owned by the member account is reused instead
    of allocating another; it is confirmed only while it is still ``confirming``; route
    propagation is enabled only where missing.
    """
    region = context.require("region")
    vpc_id = context.require("vpc_id")
    account_id = context.require("account_id")
    params = context.params(DIRECT_CONNECT_DEFAULT_PARAMS)
    direct_connect_required(params)
    asn = int(params["asn"])
    if params["vlan"] in (None, ""):
        vlan = vlan_allocate(connection_id=str(params["connection_id"]), request_id=str(context.require("request_id")))
    else:
        vlan = int(params["vlan"])
    name = str(context.inputs.get("account_name") or context.require("request_id"))

    ec2 = cloud.client("ec2", session=cloud.member_session_of(context.inputs), region=region)
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
                {"key": t["Key"], "value": t["Value"]}
                for t in aws_tags(context.inputs, component="virtual-interface", name=name)
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
    return {"virtual_interface_id": interface_id, "virtual_gateway_id": gateway_id, "vlan": vlan}


def _ensure_vpn_gateway(context: StepContext, ec2: Any, *, vpc_id: str, amazon_side_asn: Any, name: str) -> str:
    found = described(
        ec2.describe_vpn_gateways,
        "VpnGateways",
        "DescribeVpnGateways",
        Filters=[*ours(context, "vpn-gateway"), {"Name": "state", "Values": ["pending", "available"]}],
    )
    if found:
        gateway = found[0]
    else:
        extra = {"AmazonSideAsn": int(amazon_side_asn)} if amazon_side_asn else {}
        tags = aws_tags(context.inputs, component="vpn-gateway", name=name)
        with cloud.aws_errors("CreateVpnGateway"):
            gateway = ec2.create_vpn_gateway(Type="ipsec.1", TagSpecifications=tag_spec("vpn-gateway", tags), **extra)[
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
    for table in described(
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

"""The network steps' parameters: each step's defaults (a blueprint's ``params`` are laid
over them, key by key) and the checks of their values, shared by the steps that read them
and by the step catalog's ``check_params`` when a blueprint is saved."""

from collections.abc import Mapping
from typing import Any

from apps.kernel.steptools import invalid_params, merged_params

VPC_DEFAULT_PARAMS: dict[str, Any] = {
    "tiers": ["public", "private"],
    "nat": "single",
    "delete_default_vpcs_in": None,  # None: the request's region
}

FLOW_LOGS_DEFAULT_PARAMS: dict[str, Any] = {
    "destination": "s3",
    "traffic_type": "ALL",
    "log_group_name": "/bespoke/vpc-flow-logs",
    "role_name": "bespoke-vpc-flow-logs",
}

DNS_DEFAULT_PARAMS: dict[str, Any] = {
    "zone_name": "{project_short_name}.{environment}.{dns_domain}",
}

DIRECT_CONNECT_DEFAULT_PARAMS: dict[str, Any] = {
    "connection_id": None,  # required: the payer's Direct Connect connection (dxcon-…)
    "vlan": None,  # None: the next free VLAN of the connection's VLAN pool
    "asn": None,  # required: the customer side's BGP ASN
    "amazon_address": None,
    "customer_address": None,
    "address_family": "ipv4",
    "auth_key": None,
    "amazon_side_asn": None,  # the virtual private gateway's ASN; None: Amazon's default
    "virtual_interface_name": None,  # None: the account name
    "propagate_routes": True,
}

DEFAULT_PARAMS: dict[str, Mapping[str, Any]] = {
    "vpc": VPC_DEFAULT_PARAMS,
    "flow_logs": FLOW_LOGS_DEFAULT_PARAMS,
    "dns": DNS_DEFAULT_PARAMS,
    "direct_connect": DIRECT_CONNECT_DEFAULT_PARAMS,
}


def check_params(step: str, given: Mapping[str, Any] | None) -> None:
    """A blueprint's parameters for ``step``, checked as the step will read them (the step
    catalog's check when a blueprint is saved)."""
    params = merged_params(step, given, DEFAULT_PARAMS[step])
    if step == "vpc":
        vpc_tiers(params)
    if step == "flow_logs":
        flow_logs_destination(params)
    if step == "direct_connect":
        direct_connect_required(params)


def vpc_tiers(params: Mapping[str, Any]) -> list[str]:
    tiers = params["tiers"]
    if not isinstance(tiers, list) or not tiers or len(set(tiers)) != len(tiers):
        raise invalid_params("vpc", f"tiers must be a non-empty list of distinct names, not {tiers!r}.")
    if params["nat"] not in ("single", "none"):
        raise invalid_params("vpc", f"nat must be 'single' or 'none', not {params['nat']!r}.")
    if params["nat"] == "single" and "public" not in tiers:
        raise invalid_params("vpc", "a NAT gateway needs a 'public' tier to live in.")
    return list(tiers)


def flow_logs_destination(params: Mapping[str, Any]) -> tuple[str, str]:
    """(destination type, traffic type) of the ``flow_logs`` parameters."""
    destination_type = params["destination"]
    traffic_type = str(params["traffic_type"]).upper()
    if destination_type not in ("s3", "cloud-watch-logs"):
        raise invalid_params("flow_logs", f"destination must be 's3' or 'cloud-watch-logs', not {destination_type!r}.")
    if traffic_type not in ("ALL", "ACCEPT", "REJECT"):
        raise invalid_params("flow_logs", f"traffic_type must be ALL, ACCEPT or REJECT, not {traffic_type!r}.")
    return destination_type, traffic_type


def direct_connect_required(params: Mapping[str, Any]) -> None:
    missing = [key for key in ("connection_id", "asn") if params[key] in (None, "")]
    if missing:
        raise invalid_params("direct_connect", f"the blueprint must give {', '.join(missing)}.")

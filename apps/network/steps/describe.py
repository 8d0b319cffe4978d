"""What a dry run says each network step creates (the step catalog's ``describe``)."""

from collections.abc import Mapping
from typing import Any

from apps.kernel.contracts import PlanFacts
from apps.kernel.steptools import merged_params
from apps.network.steps.params import DIRECT_CONNECT_DEFAULT_PARAMS, FLOW_LOGS_DEFAULT_PARAMS, VPC_DEFAULT_PARAMS


def where(region: str, facts: PlanFacts) -> str:
    """``" in <region>"`` when the request builds in several regions."""
    return f" in {region}" if len(facts.all_regions) > 1 else ""


def describe_vpc(given: Mapping[str, Any], facts: PlanFacts) -> list[str]:
    params = merged_params("vpc", given, VPC_DEFAULT_PARAMS)
    tiers, nat = params["tiers"], params["nat"]
    az_count, prefix = facts.vpc.get("az_count", 2), facts.vpc.get("prefix_length", 24)
    return [
        *(
            f"VPC /{prefix}{where(region, facts)} with {az_count * len(tiers)} subnets over {az_count} AZs "
            f"({', '.join(tiers)}), internet gateway{', NAT gateway' if nat != 'none' else ''}, route tables"
            for region in facts.all_regions
        ),
        *(f"default VPC deleted in {region}" for region in params["delete_default_vpcs_in"] or facts.all_regions),
    ]


def describe_flow_logs(given: Mapping[str, Any], facts: PlanFacts) -> list[str]:
    destination = merged_params("flow_logs", given, FLOW_LOGS_DEFAULT_PARAMS)["destination"]
    return [f"VPC flow logs{where(region, facts)} to {destination}" for region in facts.all_regions]


def describe_dns(given: Mapping[str, Any], facts: PlanFacts) -> list[str]:
    if len(facts.all_regions) == 1:
        return ["private hosted zone associated with the VPC"]
    return [f"private hosted zone associated with the VPCs in {', '.join(facts.all_regions)}"]


def describe_direct_connect(given: Mapping[str, Any], facts: PlanFacts) -> list[str]:
    params = merged_params("direct_connect", given, DIRECT_CONNECT_DEFAULT_PARAMS)
    vlan = params["vlan"] if params["vlan"] not in (None, "") else "from the connection's VLAN pool"
    return [f"Direct Connect private virtual interface on {params['connection_id']} VLAN {vlan}"]

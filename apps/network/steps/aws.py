"""What the network steps share of AWS: the error codes that mean "not yet", look-ups
of what an earlier attempt of the request created (by its tags), and tag specifications."""

from collections.abc import Callable, Mapping
from typing import Any

from apps.cloud import api as cloud
from apps.kernel.steps import StepContext
from apps.kernel.steptools import COMPONENT_TAG, REQUEST_TAG

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


def vpc_ids_by_region(inputs: Mapping[str, Any]) -> dict[str, str]:
    """The request's VPC in each region, from the ``vpc`` step's outputs (``vpcs``; a run
    whose ``vpc`` step predates them has its one ``vpc_id`` in the primary region)."""
    vpcs = inputs.get("vpcs")
    if vpcs:
        return {str(region): str(vpc["vpc_id"]) for region, vpc in vpcs.items()}
    vpc_id = inputs.get("vpc_id")
    return {str(inputs["region"]): str(vpc_id)} if vpc_id else {}


def tag_spec(resource_type: str, tags: list[dict[str, str]]) -> list[dict[str, Any]]:
    """EC2's ``TagSpecifications`` for a resource created with ``tags``."""
    return [{"ResourceType": resource_type, "Tags": tags}]


def ours(context: StepContext, component: str, **tags: str) -> list[dict[str, Any]]:
    """EC2 filters for what this request's earlier attempts created of ``component``."""
    wanted = {REQUEST_TAG: context.require("request_id"), COMPONENT_TAG: component, **tags}
    return [{"Name": f"tag:{key}", "Values": [value]} for key, value in wanted.items()]


def tag_value(resource: Mapping[str, Any], key: str) -> str | None:
    for tag in resource.get("Tags", []):
        if tag["Key"] == key:
            return str(tag["Value"])
    return None


def described(call: Callable[..., Any], key: str, action: str, **kwargs: Any) -> list[dict[str, Any]]:
    """The ``key`` list of a Describe call's answer (AWS errors as step errors)."""
    with cloud.aws_errors(action):
        return list(call(**kwargs)[key])

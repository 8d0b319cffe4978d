"""The ``dns`` step: a private hosted zone for the account, associated with its VPC."""

import re
import string
from typing import Any

from apps.cloud import api as cloud
from apps.kernel.errors import PermanentError
from apps.kernel.steps import StepContext
from apps.kernel.steptools import aws_tags, invalid_params
from apps.network.steps.aws import NOT_YET, vpc_ids_by_region
from apps.network.steps.params import DNS_DEFAULT_PARAMS

_DNS_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def dns(context: StepContext) -> dict[str, Any]:
    """A private hosted zone for the account, associated with its VPC in each of its
    regions (one zone: a name resolves the same in every region).

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
    vpcs = vpc_ids_by_region(context.inputs)
    params = context.params(DNS_DEFAULT_PARAMS)
    zone_name = _zone_name(context, params["zone_name"])
    caller_reference = f"bespoke-{request_id}-dns"

    session = cloud.member_session_of(context.inputs)
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
        associated = {vpc_id}  # created with it: no need to read it back
    else:
        with cloud.aws_errors("GetHostedZone"):
            associated = {v.get("VPCId") for v in route53.get_hosted_zone(Id=zone_id).get("VPCs", [])}
    for vpc_region, regional_vpc_id in vpcs.items():
        if regional_vpc_id not in associated:
            with cloud.aws_errors("AssociateVPCWithHostedZone", retryable_codes=NOT_YET):
                route53.associate_vpc_with_hosted_zone(
                    HostedZoneId=zone_id, VPC={"VPCRegion": vpc_region, "VPCId": regional_vpc_id}
                )
    short_id = str(zone_id).rsplit("/", 1)[-1]
    tags = [t for t in aws_tags(context.inputs, component="hosted-zone", name=zone_name) if t["Key"] != "Name"]
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
        raise invalid_params(context.step, f"zone_name {template!r} names an unknown value: {error}.") from None
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

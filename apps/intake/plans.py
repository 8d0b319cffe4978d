"""Dry runs: what a request would do — its steps in order, the CIDR it would get, the
resources it would create — computed from the same blueprint a real run would pin,
without writing anything or calling AWS."""

from typing import Any

from apps.accounts import api as accounts
from apps.baseline import api as baseline
from apps.intake.contracts import LIVE_STATUSES
from apps.intake.models import AccountRequest
from apps.intake.services import DuplicateRequest, UnknownPayer
from apps.network import api as network
from apps.workflow import api as workflow


def _describe(step: str, params: dict[str, Any], data: dict[str, Any], email: str, name: str) -> list[str]:
    """Human-readable resources a step would create, from its blueprint parameters."""
    if step in baseline.STEP_NAMES:
        params = {**baseline.default_params(step), **params}
    vpc = data["vpc"]
    if step == "create_account":
        return [f"AWS account {name} <{email}> in payer {data['payer']}'s Organization"]
    if step == "wait_account":
        return ["(waits for Organizations, then assumes the account's role)"]
    if step == "iam":
        roles = [role.get("name", "?") for role in params.get("roles", [])]
        described = ["SAML identity provider", "account alias", "password policy"]
        return described + ([f"IAM roles: {', '.join(roles)}"] if roles else ["the blueprint's default IAM roles"])
    if step == "cloudtrail":
        return [f"multi-region CloudTrail trail {params.get('name', 'bespoke-trail')} to the central log bucket"]
    if step == "config":
        rules = list(params.get("rules", [])) + (list(params.get("regulated_rules", [])) if data["regulated"] else [])
        names = [rule["identifier"] if isinstance(rule, dict) else rule for rule in rules]
        return ["AWS Config recorder and delivery channel", *(f"Config rule {name}" for name in names)]
    if step == "support":
        return ["Enterprise Support case"] if params.get("enabled", True) else []
    if step == "vpc":
        tiers = params.get("tiers", ["public", "private"])
        nat = params.get("nat", "single")
        return [
            f"VPC /{vpc['prefix_length']} with {vpc['az_count'] * len(tiers)} subnets over {vpc['az_count']} AZs "
            f"({', '.join(tiers)}), internet gateway{', NAT gateway' if nat != 'none' else ''}, route tables",
            *(f"default VPC deleted in {region}" for region in params.get("delete_default_vpcs_in", [data["region"]])),
        ]
    if step == "flow_logs":
        return [f"VPC flow logs to {params.get('destination', 's3')}"]
    if step == "dns":
        return ["private hosted zone associated with the VPC"]
    if step == "direct_connect":
        connection, vlan = params.get("connection_id", "?"), params.get("vlan", "?")
        return [f"Direct Connect private virtual interface on {connection} VLAN {vlan}"]
    if step == "verify":
        return ["(reads back everything above)"]
    return []


def request_plan(*, data: dict[str, Any]) -> dict[str, Any]:
    """The plan of a validated request, as a dry run reports it.

    Raises the same errors as a real submission would (unknown payer, duplicate), so a
    dry run that passes means the real request would be accepted now.
    """
    payer = accounts.payer_get(name=data["payer"])
    if payer is None:
        raise UnknownPayer("The request is invalid; see extra.fields.", extra={"fields": {"payer": ["Unknown payer."]}})
    short_name, environment = data["tags"]["project_short_name"], data["environment"]
    email = accounts.account_email(payer=payer, project_short_name=short_name, environment=environment)
    name = accounts.account_name(payer=payer, project_short_name=short_name, environment=environment)
    existing = AccountRequest.objects.filter(account_email=email, status__in=LIVE_STATUSES).first()
    if existing is not None:
        raise DuplicateRequest(
            f"A request for {email} already exists.",
            extra={"existing_request_id": existing.id, "account_email": email, "status": existing.status},
        )
    blueprint = accounts.blueprint_for(payer=payer.name, environment=environment, regulated=data["regulated"])
    plan = workflow.plan_from_blueprint(blueprint.steps) if blueprint else workflow.ACCOUNT_CREATION
    waves = workflow.execution_order(plan)
    wave_of = {step: index for index, wave in enumerate(waves) for step in wave}
    cidr = None
    warnings: list[str] = []
    if any(spec.name == "vpc" for spec in plan):
        prefix = data["vpc"]["prefix_length"]
        cidr = network.cidr_preview(payer=payer.name, region=data["region"], prefix_length=prefix)
        if cidr is None:
            warnings.append(
                f"No free /{prefix} in payer {payer.name}'s IP pool for {data['region']}: the vpc step would fail."
            )
    return {
        "dry_run": True,
        "account_email": email,
        "account_name": name,
        "blueprint": {"name": blueprint.name, "version": blueprint.version} if blueprint else None,
        "approval_required": bool(data["regulated"]) and payer.approval_required_for_regulated,
        "waves": waves,
        "steps": [
            {
                "name": spec.name,
                "legacy_name": spec.legacy_name,
                "context": spec.context,
                "depends_on": list(spec.depends_on),
                "required": spec.required,
                "wave": wave_of[spec.name],
                "params": spec.params,
                "creates": _describe(spec.name, spec.params, data, email, name),
            }
            for spec in sorted(plan, key=lambda spec: wave_of[spec.name])
        ],
        "cidr": cidr,
        "warnings": warnings,
    }

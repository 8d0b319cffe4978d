"""Dry runs: what a request would do — its steps in order, the CIDR it would get, the
resources it would create — computed from the same blueprint a real run would pin,
without writing anything or calling AWS."""

from typing import Any

from apps.accounts import api as accounts
from apps.intake.contracts import LIVE_STATUSES
from apps.intake.models import AccountRequest
from apps.intake.services import DuplicateRequest, UnknownPayer, request_regions
from apps.kernel import catalog
from apps.kernel.contracts import PlanFacts
from apps.network import api as network
from apps.workflow import api as workflow


def _describe(step: str, params: dict[str, Any], facts: PlanFacts) -> list[str]:
    """What a step would create, as the context that runs it describes it."""
    declared = catalog.get(step)
    return list(catalog.resolve(declared.describe)(params, facts)) if declared.describe else []


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
    plan = workflow.plan_from_blueprint(blueprint.steps) if blueprint else workflow.account_creation()
    waves = workflow.execution_order(plan)
    wave_of = {step: index for index, wave in enumerate(waves) for step in wave}
    regions = request_regions(data)
    cidrs: dict[str, str | None] = {}
    warnings: list[str] = []
    if any(spec.name == "vpc" for spec in plan):
        prefix = data["vpc"]["prefix_length"]
        for region in regions:
            cidrs[region] = network.cidr_preview(payer=payer.name, region=region, prefix_length=prefix)
            if cidrs[region] is None:
                warnings.append(
                    f"No free /{prefix} in payer {payer.name}'s IP pool for {region}: the vpc step would fail."
                )
    facts = PlanFacts(
        payer=payer.name,
        region=regions[0],
        regions=tuple(regions),
        regulated=bool(data["regulated"]),
        account_email=email,
        account_name=name,
        vpc=dict(data["vpc"]),
        environment=environment,
        monthly_budget_usd=data.get("monthly_budget_usd"),
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
                "creates": _describe(spec.name, spec.params, facts),
            }
            for spec in sorted(plan, key=lambda spec: wave_of[spec.name])
        ],
        "cidr": cidrs.get(regions[0]),
        "cidrs": cidrs,
        "warnings": warnings,
    }

"""The account guardrail steps' parameters (``account_hygiene``, ``security_services``,
``budget``), the catalog's ``check_params`` for them and what a dry run says each puts in
place (docs/guardrails.md)."""

from collections.abc import Mapping
from typing import Any

from apps.kernel.contracts import PlanFacts
from apps.kernel.steptools import invalid_params, merged_params

CONTACT_TYPES = ("billing", "operations", "security")

ACCOUNT_HYGIENE_DEFAULT_PARAMS: dict[str, Any] = {
    # The payer's alternate contacts (billing, operations, security); the request's
    # technical contact becomes the operations contact's name and email.
    "alternate_contacts": True,
    # S3 Block Public Access for the whole account (all four settings).
    "s3_block_public_access": True,
    # EBS encryption by default, in every region the run builds in.
    "ebs_encryption_by_default": True,
    # An IAM Access Analyzer of the account (zone of trust: the account), per region.
    "access_analyzer": True,
    "access_analyzer_name": "bespoke-account",
}

SECURITY_SERVICES_DEFAULT_PARAMS: dict[str, Any] = {
    # Each enabled in every built region; members of the payer's delegated administrator
    # (security_admin_account_id) when the payer has one.
    "guardduty": True,
    "security_hub": True,
}

BUDGET_DEFAULT_PARAMS: dict[str, Any] = {
    "name": "bespoke-monthly-cost",
    # Monthly cost limit in USD per environment; a request may ask for its own, up to the
    # payer's max_monthly_budget_usd.
    "monthly_limit_usd": {"prd": 5000, "stg": 1000, "tst": 500, "dev": 500},
    "default_monthly_limit_usd": 500,
    # Alerts (actual cost, percent of the limit) to the requestor and the technical contact.
    "alert_thresholds_percent": [80, 100],
}

DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "account_hygiene": ACCOUNT_HYGIENE_DEFAULT_PARAMS,
    "security_services": SECURITY_SERVICES_DEFAULT_PARAMS,
    "budget": BUDGET_DEFAULT_PARAMS,
}


def check_params(step: str, given: Mapping[str, Any] | None) -> None:
    params = merged_params(step, given, DEFAULT_PARAMS[step])
    if step == "budget":
        limits = params["monthly_limit_usd"]
        if not isinstance(limits, Mapping) or not all(_positive(value) for value in limits.values()):
            raise invalid_params(step, "monthly_limit_usd maps environments to positive amounts.")
        if not _positive(params["default_monthly_limit_usd"]):
            raise invalid_params(step, "default_monthly_limit_usd must be a positive amount.")
        thresholds = params["alert_thresholds_percent"]
        if not isinstance(thresholds, list) or not all(_positive(value) for value in thresholds):
            raise invalid_params(step, "alert_thresholds_percent is a list of positive percentages.")
    else:
        for key, value in params.items():
            if key != "access_analyzer_name" and not isinstance(value, bool):
                raise invalid_params(step, f"{key} is true or false.")


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def monthly_limit(params: Mapping[str, Any], *, environment: str, requested: Any) -> int:
    """The request's own limit when it gave one (intake kept it within the payer's
    maximum), else its environment's, else the default."""
    if requested:
        return int(requested)
    return int(dict(params["monthly_limit_usd"]).get(environment) or params["default_monthly_limit_usd"])


def describe_account_hygiene(given: Mapping[str, Any], facts: PlanFacts) -> list[str]:
    params = merged_params("account_hygiene", given, ACCOUNT_HYGIENE_DEFAULT_PARAMS)
    return [
        line
        for line, on in (
            ("alternate contacts: billing, operations, security", params["alternate_contacts"]),
            ("S3 Block Public Access for the account", params["s3_block_public_access"]),
            (f"EBS encryption by default in {facts.region}", params["ebs_encryption_by_default"]),
            (f"IAM Access Analyzer {params['access_analyzer_name']} in {facts.region}", params["access_analyzer"]),
        )
        if on
    ]


def describe_security_services(given: Mapping[str, Any], facts: PlanFacts) -> list[str]:
    params = merged_params("security_services", given, SECURITY_SERVICES_DEFAULT_PARAMS)
    return [
        f"{name} in {facts.region}, member of the payer's delegated administrator"
        for name, on in (("GuardDuty", params["guardduty"]), ("Security Hub", params["security_hub"]))
        if on
    ]


def describe_budget(given: Mapping[str, Any], facts: PlanFacts) -> list[str]:
    params = merged_params("budget", given, BUDGET_DEFAULT_PARAMS)
    limit = monthly_limit(params, environment=facts.environment, requested=facts.monthly_budget_usd)
    thresholds = " and ".join(f"{value}%" for value in params["alert_thresholds_percent"])
    return [
        f"AWS Budget {params['name']}: {limit} USD a month, alerts at {thresholds} to requestor and technical contact"
    ]

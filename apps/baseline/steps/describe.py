"""What a dry run says each baseline step creates (the step catalog's ``describe``)."""

from collections.abc import Mapping
from typing import Any

from apps.baseline.steps.params import (
    CLOUDTRAIL_DEFAULT_PARAMS,
    CONFIG_DEFAULT_PARAMS,
    IAM_DEFAULT_PARAMS,
    SUPPORT_DEFAULT_PARAMS,
    config_rule_specs,
    role_specs,
)
from apps.kernel.contracts import PlanFacts
from apps.kernel.steptools import merged_params


def describe_iam(given: Mapping[str, Any], facts: PlanFacts) -> list[str]:
    roles = [role.name for role in role_specs(merged_params("iam", given, IAM_DEFAULT_PARAMS))]
    described = ["SAML identity provider", "account alias", "password policy"]
    return described + ([f"IAM roles: {', '.join(roles)}"] if roles else [])


def describe_cloudtrail(given: Mapping[str, Any], facts: PlanFacts) -> list[str]:
    params = merged_params("cloudtrail", given, CLOUDTRAIL_DEFAULT_PARAMS)
    return [f"multi-region CloudTrail trail {params['name']} to the central log bucket"]


def describe_config(given: Mapping[str, Any], facts: PlanFacts) -> list[str]:
    rules = config_rule_specs(merged_params("config", given, CONFIG_DEFAULT_PARAMS), regulated=facts.regulated)
    return ["AWS Config recorder and delivery channel", *(f"Config rule {rule.identifier}" for rule in rules)]


def describe_support(given: Mapping[str, Any], facts: PlanFacts) -> list[str]:
    return ["Enterprise Support case"] if merged_params("support", given, SUPPORT_DEFAULT_PARAMS)["enabled"] else []

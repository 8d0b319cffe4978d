"""What ``verify`` reads back of the baseline steps in a member account: one sentence per
problem, none when everything the blueprint asked for is in place."""

from collections.abc import Mapping
from typing import Any

from apps.baseline.contracts import SAML_AUDIENCE
from apps.baseline.steps import aws
from apps.baseline.steps.iam import find_saml_provider, iam_state
from apps.baseline.steps.params import DEFAULT_PARAMS, config_rule_specs, role_specs
from apps.cloud import api as cloud
from apps.kernel.contracts import ReadBack
from apps.kernel.steptools import merged_params, request_regions

# The steps read_back knows how to check (support leaves nothing in the member account).
_CHECKED = ("iam", "cloudtrail", "config")


def iam_problems(check: ReadBack) -> list[str]:
    return _problems_of("iam", check)


def cloudtrail_problems(check: ReadBack) -> list[str]:
    return _problems_of("cloudtrail", check)


def config_problems(check: ReadBack) -> list[str]:
    return _problems_of("config", check)


def _problems_of(step: str, check: ReadBack) -> list[str]:
    """The step's read-back as ``verify`` asks for it (through the step catalog)."""
    params = dict(check.params)
    if step == "config":
        params["regulated"] = bool(check.inputs.get("regulated"))
    return read_back(
        payer_settings=check.payer_settings,
        account_id=check.account_id,
        expectations={step: params},
        region=check.inputs.get("region"),
        regions=request_regions(check.inputs) if check.inputs.get("region") else None,
    )


def read_back(
    *,
    payer_settings: Mapping[str, Any],
    account_id: str,
    expectations: Mapping[str, Mapping[str, Any] | None],
    region: str | None = None,
    regions: list[str] | None = None,
) -> list[str]:
    """What is wrong with the baseline of member account ``account_id``: one sentence per
    problem, ``[]`` when everything the blueprint asked for is in place.

    ``expectations`` maps a step to the parameters the blueprint gave it
    (``{"iam": {...}, "cloudtrail": {...}, "config": {..., "regulated": bool}}``), laid over
    the step's defaults as the step does; a step that is absent is not checked. CloudTrail
    and Config are read in their ``region`` parameter, else ``region`` (pass the request's:
    it is where the steps built them); Config in each of ``regions`` too when its parameter
    names no region (the request's regions: it is built in each). AWS errors raise ``StepError``s, as in a step.
    """
    wanted: dict[str, dict[str, Any]] = {}
    for step, given in expectations.items():
        if step in _CHECKED:
            given = dict(given or {})
            regulated = bool(given.pop("regulated", False))  # not a parameter: a fact of the request
            wanted[step] = {**merged_params(step, given, DEFAULT_PARAMS[step]), "regulated": regulated}
    if not wanted:
        return []
    session = cloud.member_session_of({"payer_settings": payer_settings, "account_id": account_id})
    problems: list[str] = []
    if "iam" in wanted:
        problems += _iam_problems(aws.client("iam", session=session), payer_settings, wanted["iam"])
    if "cloudtrail" in wanted:
        params = wanted["cloudtrail"]
        client = aws.client("cloudtrail", session=session, region=aws.region_for(params, {"region": region}))
        problems += _cloudtrail_problems(client, payer_settings, params)
    if "config" in wanted:
        params = wanted["config"]
        config_regions = [aws.region_for(params, {"region": region})]
        if not params.get("region") and regions:
            config_regions = list(regions)
        for config_region in config_regions:
            client = aws.client("config", session=session, region=config_region)
            problems += _config_problems(client, payer_settings, params)
    return problems


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def trusts_saml(document: Any, provider_arn: str) -> bool:
    """Whether a trust policy lets users of ``provider_arn`` sign in to the console with SAML."""
    for statement in _listed((aws.as_document(document) or {}).get("Statement")):
        principal = statement.get("Principal")
        condition = statement.get("Condition") or {}
        if (
            statement.get("Effect") == "Allow"
            and "sts:AssumeRoleWithSAML" in _listed(statement.get("Action"))
            and isinstance(principal, dict)
            and provider_arn in _listed(principal.get("Federated"))
            and SAML_AUDIENCE in _listed((condition.get("StringEquals") or {}).get("SAML:aud"))
        ):
            return True
    return False


def _iam_problems(client: Any, payer_settings: Mapping[str, Any], params: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    provider_name = payer_settings["saml_provider_name"]
    provider_arn = find_saml_provider(client, provider_name)
    if provider_arn is None:
        problems.append(f"SAML provider {provider_name!r} is missing.")
    roles, _ = iam_state(client, filters=("Role",))
    for role in role_specs(params):
        found = roles.get(role.name)
        if found is None:
            problems.append(f"IAM role {role.name!r} is missing.")
            continue
        if provider_arn and not trusts_saml(found.get("AssumeRolePolicyDocument"), provider_arn):
            problems.append(
                f"IAM role {role.name!r} does not trust SAML provider {provider_arn} "
                f"(sts:AssumeRoleWithSAML with SAML:aud {SAML_AUDIENCE})."
            )
        inline = {policy["PolicyName"] for policy in found.get("RolePolicyList", [])}
        problems += [
            f"IAM role {role.name!r} lacks its inline policy {name!r}."
            for name in role.inline_policies
            if name not in inline
        ]
        attached = {policy["PolicyName"] for policy in found.get("AttachedManagedPolicies", [])}
        problems += [
            f"IAM role {role.name!r} lacks its managed policy {policy.name!r}."
            for policy in role.managed_policies
            if policy.name not in attached
        ]
    problems += _alias_problems(client, params.get("account_alias", True))
    problems += _password_policy_problems(client, params.get("password_policy"))
    return problems


def _alias_problems(client: Any, setting: Any) -> list[str]:
    if not setting:
        return []
    with cloud.aws_errors("ListAccountAliases"):
        aliases = list(client.list_account_aliases()["AccountAliases"])
    if not aliases:
        return ["The account has no alias."]
    if isinstance(setting, str) and setting not in aliases:
        return [f"The account alias is {aliases[0]!r}, not {setting!r}."]
    return []


def _password_policy_problems(client: Any, wanted: Mapping[str, Any] | None) -> list[str]:
    if not wanted:
        return []
    actual = aws.lookup(
        "GetAccountPasswordPolicy",
        lambda: client.get_account_password_policy()["PasswordPolicy"],
        missing="NoSuchEntity",
    )
    if actual is None:
        return ["The account has no IAM password policy."]
    # AWS leaves out settings that are off (False, 0): absent means off.
    return [
        f"The password policy's {key} is {actual.get(key)!r}, not {value!r}."
        for key, value in wanted.items()
        if actual.get(key) != value and (key in actual or value)
    ]


def _cloudtrail_problems(client: Any, payer_settings: Mapping[str, Any], params: Mapping[str, Any]) -> list[str]:
    name = str(params["name"])
    trail = aws.lookup("GetTrail", lambda: client.get_trail(Name=name)["Trail"], missing="TrailNotFoundException")
    if trail is None:
        return [f"CloudTrail trail {name!r} is missing."]
    problems: list[str] = []
    if not trail.get("IsMultiRegionTrail"):
        problems.append(f"CloudTrail trail {name!r} records one region, not all.")
    if not trail.get("IncludeGlobalServiceEvents"):
        problems.append(f"CloudTrail trail {name!r} leaves out global service events.")
    if not trail.get("LogFileValidationEnabled"):
        problems.append(f"CloudTrail trail {name!r} does not validate its log files.")
    bucket = payer_settings.get("log_archive_bucket")
    if bucket and trail.get("S3BucketName") != bucket:
        problems.append(f"CloudTrail trail {name!r} delivers to bucket {trail.get('S3BucketName')!r}, not {bucket!r}.")
    with cloud.aws_errors("GetTrailStatus"):
        logging = bool(client.get_trail_status(Name=name).get("IsLogging"))
    if not logging:
        problems.append(f"CloudTrail trail {name!r} is not logging.")
    return problems


def _config_problems(client: Any, payer_settings: Mapping[str, Any], params: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    region = client.meta.region_name
    with cloud.aws_errors("DescribeConfigurationRecorders"):
        recorders = client.describe_configuration_recorders()["ConfigurationRecorders"]
    if not recorders:
        problems.append(f"No AWS Config recorder exists in {region}.")
    else:
        recorder = recorders[0]
        group = recorder.get("recordingGroup") or {}
        if not (group.get("allSupported") and group.get("includeGlobalResourceTypes")):
            problems.append(
                f"AWS Config recorder {recorder['name']!r} does not record every resource type, global ones included."
            )
        with cloud.aws_errors("DescribeConfigurationRecorderStatus"):
            statuses = client.describe_configuration_recorder_status(ConfigurationRecorderNames=[recorder["name"]])[
                "ConfigurationRecordersStatus"
            ]
        if not any(status.get("recording") for status in statuses):
            problems.append(f"AWS Config recorder {recorder['name']!r} is not recording.")
    with cloud.aws_errors("DescribeDeliveryChannels"):
        channels = client.describe_delivery_channels()["DeliveryChannels"]
    bucket = payer_settings.get("log_archive_bucket")
    if not channels:
        problems.append(f"No AWS Config delivery channel exists in {region}.")
    elif bucket and channels[0].get("s3BucketName") != bucket:
        problems.append(
            f"AWS Config delivery channel {channels[0]['name']!r} delivers to bucket "
            f"{channels[0].get('s3BucketName')!r}, not {bucket!r}."
        )
    existing: set[str] = set()
    with cloud.aws_errors("DescribeConfigRules"):
        for page in client.get_paginator("describe_config_rules").paginate():
            existing.update(rule["ConfigRuleName"] for rule in page.get("ConfigRules", []))
    problems += [
        f"AWS Config rule {rule.name!r} ({rule.identifier}) is missing."
        for rule in config_rule_specs(params, regulated=bool(params.get("regulated")))
        if rule.name not in existing
    ]
    return problems

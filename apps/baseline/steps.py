"""The baseline context's workflow steps: IAM and SAML federation, CloudTrail, AWS Config
and the Enterprise Support case of a new member account.

A step's parameters come from the blueprint (the ``step_params`` input) laid over the
step's defaults below, key by key: a key the blueprint gives replaces the default whole
(a blueprint's ``roles`` list replaces the four default roles). Every step but
``support`` works inside the member account through the payer's member role; ``support``
works in the payer's management account, which holds the Support plan.
"""

import copy
import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import unquote

from apps.baseline import policies
from apps.baseline.contracts import SAML_AUDIENCE, ConfigRuleSpec, ManagedPolicySpec, RoleSpec
from apps.cloud import api as cloud
from apps.kernel.contracts import PlanFacts
from apps.kernel.errors import InvalidStepParams, PermanentError
from apps.kernel.steps import StepContext

# --- Parameters ---------------------------------------------------------------------------

_BASELINE_PROTECTION = {
    "name": "bespoke-baseline-protection",
    "description": "Keeps federated users from switching off or rewriting the account baseline.",
    "document": policies.BASELINE_PROTECTION,
}

IAM_DEFAULT_PARAMS: dict[str, Any] = {
    # Roles federated users assume through the payer's identity provider. Each:
    # name, description, max_session_duration (seconds), inline_policies {name: document},
    # managed_policies [{name, document, description?}] (customer-managed, made in the account).
    "roles": [
        {
            "name": "bespoke-admin",
            "description": "Administrators of the account, signed in through the identity provider.",
            "max_session_duration": 3600,
            "inline_policies": {
                "bespoke-administrator": policies.ADMINISTRATOR,
                "bespoke-stay-in-organization": policies.DENY_LEAVING_THE_ORGANIZATION,
            },
            "managed_policies": [_BASELINE_PROTECTION],
        },
        {
            "name": "bespoke-read-only",
            "description": "Read-only access to the account's configuration and metadata.",
            "max_session_duration": 3600,
            "inline_policies": {},
            "managed_policies": [
                {
                    "name": "bespoke-read-only",
                    "description": "Read configuration and metadata, not data.",
                    "document": policies.READ_ONLY,
                }
            ],
        },
        {
            "name": "bespoke-network",
            "description": "Network engineers: VPCs, routing, Direct Connect, DNS.",
            "max_session_duration": 3600,
            "inline_policies": {"bespoke-network": policies.NETWORK},
            "managed_policies": [_BASELINE_PROTECTION],
        },
        {
            "name": "bespoke-security-audit",
            "description": "Security auditors: read the account's security configuration.",
            "max_session_duration": 3600,
            "inline_policies": {},
            "managed_policies": [
                {
                    "name": "bespoke-security-audit",
                    "description": "Read the account's security configuration.",
                    "document": policies.SECURITY_AUDIT,
                }
            ],
        },
    ],
    # update_account_password_policy arguments, as AWS names them; {} or None leaves it alone.
    "password_policy": {
        "MinimumPasswordLength": 14,
        "RequireSymbols": True,
        "RequireNumbers": True,
        "RequireUppercaseCharacters": True,
        "RequireLowercaseCharacters": True,
        "AllowUsersToChangePassword": True,
        "MaxPasswordAge": 90,
        "PasswordReusePrevention": 24,
        "HardExpiry": False,
    },
    # true: the account name, lower case, [a-z0-9-] only, at most 63 characters;
    # a string: that alias; false: leave the alias alone.
    "account_alias": True,
}

CLOUDTRAIL_DEFAULT_PARAMS: dict[str, Any] = {
    "name": "bespoke-trail",
    # Prefix of the log files in the payer's log-archive bucket (None: AWSLogs/<account>/ at its root).
    "s3_key_prefix": None,
    # The trail's home region (None: the request's region). It records every region anyway.
    "region": None,
}

CONFIG_DEFAULT_PARAMS: dict[str, Any] = {
    # AWS allows one recorder and one delivery channel per region: if the account already
    # has one under another name, the step adopts it rather than failing.
    "recorder_name": "default",
    "delivery_channel_name": "default",
    "s3_key_prefix": None,
    "delivery_frequency": "TwentyFour_Hours",
    "region": None,
    # AWS Config needs its service-linked role; the step creates it unless told not to.
    "create_service_linked_role": True,
    # AWS-managed rules: a source identifier, or {"identifier", "name"?, "input_parameters"?,
    # "maximum_execution_frequency"?}. Named bespoke-<identifier, lower case, dashes>.
    "rules": [
        "CLOUD_TRAIL_ENABLED",
        "MULTI_REGION_CLOUD_TRAIL_ENABLED",
        "IAM_PASSWORD_POLICY",
        "IAM_ROOT_ACCESS_KEY_CHECK",
        "ROOT_ACCOUNT_MFA_ENABLED",
        "S3_BUCKET_PUBLIC_READ_PROHIBITED",
        "S3_BUCKET_PUBLIC_WRITE_PROHIBITED",
        "INCOMING_SSH_DISABLED",
        "VPC_FLOW_LOGS_ENABLED",
    ],
    # Added when the request is for a regulated account (external audit: SOX, …).
    "regulated_rules": [
        "CLOUD_TRAIL_LOG_FILE_VALIDATION_ENABLED",
        "CLOUD_TRAIL_ENCRYPTION_ENABLED",
        "ENCRYPTED_VOLUMES",
        "RDS_STORAGE_ENCRYPTED",
        "S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED",
        "MFA_ENABLED_FOR_IAM_CONSOLE_ACCESS",
        {"identifier": "ACCESS_KEYS_ROTATED", "input_parameters": {"maxAccessKeyAge": "90"}},
    ],
}

SUPPORT_DEFAULT_PARAMS: dict[str, Any] = {
    "enabled": True,
    "service_code": "customer-account",
    "category_code": "other-account-issues",
    "severity_code": "low",
    "issue_type": "customer-service",
    "cc_email_addresses": [],
    # The Support API has one endpoint per partition: us-east-1 for the commercial one.
    "region": "us-east-1",
}

DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "iam": IAM_DEFAULT_PARAMS,
    "cloudtrail": CLOUDTRAIL_DEFAULT_PARAMS,
    "config": CONFIG_DEFAULT_PARAMS,
    "support": SUPPORT_DEFAULT_PARAMS,
}


def merged_params(step: str, given: Mapping[str, Any] | None) -> dict[str, Any]:
    """``given`` (a blueprint's parameters) laid over the step's defaults, key by key; a key
    the step does not take is refused, so a typo fails loudly instead of being ignored."""
    defaults = DEFAULT_PARAMS[step]
    unknown = sorted(set(given or {}) - set(defaults))
    if unknown:
        raise _invalid(f"{step} does not take {', '.join(unknown)}; it takes {', '.join(sorted(defaults))}.")
    return {**copy.deepcopy(defaults), **(given or {})}


def check_params(step: str, given: Mapping[str, Any] | None) -> None:
    """A blueprint's parameters for ``step``, checked as the step will read them (the step
    catalog's check when a blueprint is saved)."""
    params = merged_params(step, given)
    if step == "iam":
        role_specs(params)
        desired_alias(params["account_alias"], account_name="example-account")
    if step == "config":
        config_rule_specs(params, regulated=True)


# --- What a dry run says each step creates --------------------------------------------------


def describe_iam(given: Mapping[str, Any], facts: PlanFacts) -> list[str]:
    roles = [role.name for role in role_specs(merged_params("iam", given))]
    described = ["SAML identity provider", "account alias", "password policy"]
    return described + ([f"IAM roles: {', '.join(roles)}"] if roles else [])


def describe_cloudtrail(given: Mapping[str, Any], facts: PlanFacts) -> list[str]:
    params = merged_params("cloudtrail", given)
    return [f"multi-region CloudTrail trail {params['name']} to the central log bucket"]


def describe_config(given: Mapping[str, Any], facts: PlanFacts) -> list[str]:
    rules = config_rule_specs(merged_params("config", given), regulated=facts.regulated)
    return ["AWS Config recorder and delivery channel", *(f"Config rule {rule.identifier}" for rule in rules)]


def describe_support(given: Mapping[str, Any], facts: PlanFacts) -> list[str]:
    return ["Enterprise Support case"] if merged_params("support", given)["enabled"] else []


def _params(context: StepContext) -> dict[str, Any]:
    return merged_params(context.step, context.inputs.get("step_params"))


def _invalid(message: str) -> PermanentError:
    return InvalidStepParams(f"Invalid blueprint parameters: {message}")


# --- AWS access (tests replace ``aws_client`` to stub a client) ---------------------------


def aws_client(service: str, *, session: Any, region: str | None = None) -> Any:
    """Every boto3 client of this context."""
    return cloud.client(service, session=session, region=region)


def member_session(*, payer_settings: Mapping[str, Any], account_id: str) -> Any:
    with cloud.aws_errors("AssumeRole"):
        return cloud.member_session_for(payer_settings=payer_settings, account_id=account_id)


def management_session(*, payer_settings: Mapping[str, Any]) -> Any:
    with cloud.aws_errors("AssumeRole"):
        return cloud.management_session(role_arn=payer_settings.get("management_role_arn") or None)


def _member_session(context: StepContext) -> Any:
    return member_session(payer_settings=context.require("payer_settings"), account_id=context.require("account_id"))


def lookup[T](action: str, call: Callable[[], T], *, missing: str) -> T | None:
    """``call()``, or None when AWS answers with the error code ``missing`` (not found)."""
    try:
        with cloud.aws_errors(action):
            return call()
    except PermanentError as error:
        if error.code == missing:
            return None
        raise


def _tags(inputs: Mapping[str, Any]) -> list[dict[str, str]]:
    return [{"Key": "bespoke:request-id", "Value": str(inputs.get("request_id", ""))}]


def region_for(params: Mapping[str, Any], inputs: Mapping[str, Any] | None = None) -> str | None:
    """The region a regional step works in: its ``region`` parameter, else the request's."""
    return params.get("region") or (inputs or {}).get("region") or None


def partition_for(region: str | None) -> str:
    if region and region.startswith("cn-"):
        return "aws-cn"
    if region and region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def as_document(value: Any) -> Any:
    """A policy document as a dict, whether AWS's answer was decoded already or not."""
    if isinstance(value, str):
        return json.loads(unquote(value))
    return value


def _same_document(current: Any, wanted: Mapping[str, Any]) -> bool:
    return current is not None and json.dumps(as_document(current), sort_keys=True) == json.dumps(
        wanted, sort_keys=True
    )


# --- iam ------------------------------------------------------------------------------------

# AWS's rule for an account alias: 3-63 of [a-z0-9-], starting and ending alphanumeric, no "--".
_ALIAS = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?!-)){1,61}[a-z0-9]$")


def account_alias_for(account_name: str) -> str:
    """The default alias: the account name in lower case, other characters as single dashes."""
    alias = re.sub(r"[^a-z0-9]+", "-", account_name.lower()).strip("-")
    return alias[:63].rstrip("-")


def desired_alias(setting: Any, *, account_name: str) -> str | None:
    if setting is True:
        alias = account_alias_for(account_name)
    elif not setting:
        return None
    elif isinstance(setting, str):
        alias = setting
    else:
        raise _invalid(f"account_alias must be true, false or an alias, not {setting!r}.")
    if not _ALIAS.match(alias):
        raise PermanentError(
            f"{alias!r} is not a valid account alias (3-63 of a-z, 0-9 and single dashes).",
            code="invalid_account_alias",
        )
    return alias


def saml_trust_policy(provider_arn: str) -> dict[str, Any]:
    """Who may assume a baseline role: users the payer's identity provider signs in to the console."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithSAML",
                "Condition": {"StringEquals": {"SAML:aud": SAML_AUDIENCE}},
            }
        ],
    }


def role_specs(params: Mapping[str, Any]) -> list[RoleSpec]:
    """The ``roles`` parameter, checked: unique role names, one document per managed policy name."""
    entries = params.get("roles") or []
    if not isinstance(entries, list):
        raise _invalid("roles must be a list.")
    specs: list[RoleSpec] = []
    documents: dict[str, dict[str, Any]] = {}
    for entry in entries:
        try:
            managed = tuple(
                ManagedPolicySpec(
                    name=str(policy["name"]),
                    document=dict(policy["document"]),
                    description=str(policy.get("description", "")),
                )
                for policy in entry.get("managed_policies", [])
            )
            spec = RoleSpec(
                name=str(entry["name"]),
                description=str(entry.get("description", "")),
                max_session_duration=int(entry.get("max_session_duration", 3600)),
                inline_policies={str(name): dict(doc) for name, doc in entry.get("inline_policies", {}).items()},
                managed_policies=managed,
            )
        except (AttributeError, KeyError, TypeError, ValueError) as error:
            raise _invalid(f"role {entry!r}: {type(error).__name__}: {error}") from error
        if any(spec.name == other.name for other in specs):
            raise _invalid(f"role {spec.name!r} is listed twice.")
        for policy in managed:
            if documents.setdefault(policy.name, policy.document) != policy.document:
                raise _invalid(f"managed policy {policy.name!r} has two different documents.")
        specs.append(spec)
    return specs


def iam(context: StepContext) -> dict[str, Any]:
    """The SAML provider, the federated roles with their policies, the account alias and the
    password policy, in the member account.

    Idempotent: it reads the account's roles and customer-managed policies first (one
    GetAccountAuthorizationDetails) and creates only what is missing; existing ones are
    updated in place (trust policy, description, session duration, inline policies, a new
    default policy version only when the document changed). The SAML provider is found by
    name and its metadata updated; the alias and the password policy are set, not added.
    """
    inputs = context.inputs
    params = _params(context)
    roles = role_specs(params)
    payer_settings = context.require("payer_settings")
    alias = desired_alias(params.get("account_alias", True), account_name=context.require("account_name"))
    client = aws_client("iam", session=_member_session(context))
    tags = _tags(inputs)

    provider_arn = _ensure_saml_provider(
        client,
        name=payer_settings["saml_provider_name"],
        metadata=payer_settings.get("saml_metadata_document") or "",
        tags=tags,
    )
    current_roles, current_policies = _iam_state(client)
    policy_arns: dict[str, str] = {}
    for role in roles:
        for policy in role.managed_policies:
            if policy.name not in policy_arns:
                policy_arns[policy.name] = _ensure_managed_policy(
                    client, policy, current=current_policies.get(policy.name), tags=tags
                )
    trust = saml_trust_policy(provider_arn)
    role_arns = {
        role.name: _ensure_role(
            client, role, trust=trust, current=current_roles.get(role.name), policy_arns=policy_arns, tags=tags
        )
        for role in roles
    }
    if alias:
        _ensure_alias(client, alias)
    password_policy = params.get("password_policy")
    if password_policy:
        with cloud.aws_errors("UpdateAccountPasswordPolicy"):
            client.update_account_password_policy(**password_policy)
    return {"account_alias": alias, "saml_provider_arn": provider_arn, "role_arns": role_arns}


def find_saml_provider(client: Any, name: str) -> str | None:
    with cloud.aws_errors("ListSAMLProviders"):
        providers = client.list_saml_providers()["SAMLProviderList"]
    return next((p["Arn"] for p in providers if p["Arn"].endswith(f":saml-provider/{name}")), None)


def _ensure_saml_provider(client: Any, *, name: str, metadata: str, tags: list[dict[str, str]]) -> str:
    if not metadata.strip():
        raise PermanentError(
            "The payer has no SAML metadata document: set its identity provider's metadata first.",
            code="missing_saml_metadata",
        )
    arn = find_saml_provider(client, name)
    if arn:
        with cloud.aws_errors("UpdateSAMLProvider"):
            client.update_saml_provider(SAMLProviderArn=arn, SAMLMetadataDocument=metadata)
        return arn
    # EntityAlreadyExists: a concurrent attempt made it after we looked; the retry adopts it.
    with cloud.aws_errors("CreateSAMLProvider", retryable_codes=frozenset({"EntityAlreadyExists"})):
        return str(client.create_saml_provider(Name=name, SAMLMetadataDocument=metadata, Tags=tags)["SAMLProviderArn"])


def iam_state(client: Any, *, filters: Iterable[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(roles by name, customer-managed policies by name) with their policies and versions."""
    roles: dict[str, Any] = {}
    managed: dict[str, Any] = {}
    with cloud.aws_errors("GetAccountAuthorizationDetails"):
        for page in client.get_paginator("get_account_authorization_details").paginate(Filter=list(filters)):
            roles.update({role["RoleName"]: role for role in page.get("RoleDetailList", [])})
            # The name from the ARN: the emulator's answer leaves PolicyName out.
            managed.update({policy["Arn"].rsplit("/", 1)[-1]: policy for policy in page.get("Policies", [])})
    return roles, managed


def _iam_state(client: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    return iam_state(client, filters=("Role", "LocalManagedPolicy"))


def _ensure_managed_policy(
    client: Any, policy: ManagedPolicySpec, *, current: Mapping[str, Any] | None, tags: list[dict[str, str]]
) -> str:
    document = json.dumps(policy.document)
    if current is None:
        extra = {"Description": policy.description} if policy.description else {}
        with cloud.aws_errors("CreatePolicy", retryable_codes=frozenset({"EntityAlreadyExists"})):
            created = client.create_policy(PolicyName=policy.name, PolicyDocument=document, Tags=tags, **extra)
        return str(created["Policy"]["Arn"])
    arn = str(current["Arn"])
    versions = current.get("PolicyVersionList", [])
    default = next((v for v in versions if v.get("IsDefaultVersion")), None)
    if default is not None and _same_document(default.get("Document"), policy.document):
        return arn
    older = sorted((v for v in versions if not v.get("IsDefaultVersion")), key=lambda v: str(v.get("CreateDate", "")))
    if len(versions) >= 5 and older:  # AWS keeps at most five versions of a policy
        with cloud.aws_errors("DeletePolicyVersion"):
            client.delete_policy_version(PolicyArn=arn, VersionId=older[0]["VersionId"])
    with cloud.aws_errors("CreatePolicyVersion"):
        client.create_policy_version(PolicyArn=arn, PolicyDocument=document, SetAsDefault=True)
    return arn


def _ensure_role(
    client: Any,
    role: RoleSpec,
    *,
    trust: dict[str, Any],
    current: Mapping[str, Any] | None,
    policy_arns: Mapping[str, str],
    tags: list[dict[str, str]],
) -> str:
    # Right after the SAML provider is created, IAM may not know it yet and call the trust
    # policy malformed: that settles by itself.
    settling = frozenset({"MalformedPolicyDocument"})
    inline: dict[str, Any] = {}
    attached: set[str] = set()
    if current is None:
        with cloud.aws_errors("CreateRole", retryable_codes=settling | {"EntityAlreadyExists"}):
            arn = client.create_role(
                RoleName=role.name,
                AssumeRolePolicyDocument=json.dumps(trust),
                Description=role.description,
                MaxSessionDuration=role.max_session_duration,
                Tags=tags,
            )["Role"]["Arn"]
    else:
        arn = current["Arn"]
        if not _same_document(current.get("AssumeRolePolicyDocument"), trust):
            with cloud.aws_errors("UpdateAssumeRolePolicy", retryable_codes=settling):
                client.update_assume_role_policy(RoleName=role.name, PolicyDocument=json.dumps(trust))
        with cloud.aws_errors("UpdateRole"):
            client.update_role(
                RoleName=role.name, Description=role.description, MaxSessionDuration=role.max_session_duration
            )
        inline = {p["PolicyName"]: p.get("PolicyDocument") for p in current.get("RolePolicyList", [])}
        attached = {p["PolicyArn"] for p in current.get("AttachedManagedPolicies", [])}
    for name, document in role.inline_policies.items():
        if not _same_document(inline.get(name), document):
            with cloud.aws_errors("PutRolePolicy"):
                client.put_role_policy(RoleName=role.name, PolicyName=name, PolicyDocument=json.dumps(document))
    for name in sorted(inline.keys() - role.inline_policies.keys()):
        with cloud.aws_errors("DeleteRolePolicy"):
            client.delete_role_policy(RoleName=role.name, PolicyName=name)
    wanted = {policy_arns[policy.name] for policy in role.managed_policies}
    for policy_arn in sorted(wanted - attached):
        # A policy created a moment ago may not be attachable yet.
        with cloud.aws_errors("AttachRolePolicy", retryable_codes=frozenset({"NoSuchEntity"})):
            client.attach_role_policy(RoleName=role.name, PolicyArn=policy_arn)
    for policy_arn in sorted(attached - wanted):
        with cloud.aws_errors("DetachRolePolicy"):
            client.detach_role_policy(RoleName=role.name, PolicyArn=policy_arn)
    return str(arn)


def _ensure_alias(client: Any, alias: str) -> None:
    with cloud.aws_errors("ListAccountAliases"):
        current = list(client.list_account_aliases()["AccountAliases"])
    for other in current:
        if other != alias:
            with cloud.aws_errors("DeleteAccountAlias"):
                client.delete_account_alias(AccountAlias=other)
    if alias not in current:
        # EntityAlreadyExists here means another account holds the alias: permanent.
        with cloud.aws_errors("CreateAccountAlias"):
            client.create_account_alias(AccountAlias=alias)


# --- cloudtrail -----------------------------------------------------------------------------


def log_archive_bucket(payer_settings: Mapping[str, Any]) -> str:
    bucket = payer_settings.get("log_archive_bucket") or ""
    if not bucket:
        raise PermanentError(
            "The payer has no log-archive bucket: set it before baselining accounts.",
            code="missing_log_archive_bucket",
        )
    return str(bucket)


def cloudtrail(context: StepContext) -> dict[str, Any]:
    """A multi-region trail with log file validation and global service events, delivering
    to the payer's central log bucket, logging.

    Idempotent: the trail is looked up by name and updated in place when it exists (created
    only when it does not); StartLogging on a logging trail changes nothing.
    """
    params = _params(context)
    name = str(params["name"])
    bucket = log_archive_bucket(context.require("payer_settings"))
    client = aws_client("cloudtrail", session=_member_session(context), region=region_for(params, context.inputs))
    prefix = params.get("s3_key_prefix") or ""
    settings: dict[str, Any] = {
        "Name": name,
        "S3BucketName": bucket,
        "IncludeGlobalServiceEvents": True,
        "IsMultiRegionTrail": True,
        "EnableLogFileValidation": True,
    }
    existing = lookup("GetTrail", lambda: client.get_trail(Name=name)["Trail"], missing="TrailNotFoundException")
    if existing is None:
        with cloud.aws_errors("CreateTrail", retryable_codes=frozenset({"TrailAlreadyExistsException"})):
            trail = client.create_trail(
                **settings, **({"S3KeyPrefix": prefix} if prefix else {}), TagsList=_tags(context.inputs)
            )
    else:
        with cloud.aws_errors("UpdateTrail"):
            trail = client.update_trail(**settings, S3KeyPrefix=prefix)  # "" removes a prefix
    arn = str(trail["TrailARN"])
    with cloud.aws_errors("StartLogging"):
        client.start_logging(Name=arn)
    return {"trail_arn": arn, "trail_name": name}


# --- config ---------------------------------------------------------------------------------

CONFIG_SERVICE = "config.amazonaws.com"


def config_role_arn(*, account_id: str, region: str | None) -> str:
    """AWS Config's service-linked role in the member account."""
    partition = partition_for(region)
    return f"arn:{partition}:iam::{account_id}:role/aws-service-role/{CONFIG_SERVICE}/AWSServiceRoleForConfig"


def config_rule_name(identifier: str) -> str:
    return "bespoke-" + identifier.lower().replace("_", "-")


def config_rule_specs(params: Mapping[str, Any], *, regulated: bool) -> list[ConfigRuleSpec]:
    """The rules to put: ``rules``, plus ``regulated_rules`` for a regulated account; each name once."""
    entries = list(params.get("rules") or [])
    if regulated:
        entries += list(params.get("regulated_rules") or [])
    specs: dict[str, ConfigRuleSpec] = {}
    for entry in entries:
        try:
            if isinstance(entry, str):
                spec = ConfigRuleSpec(identifier=entry, name=config_rule_name(entry))
            else:
                identifier = str(entry["identifier"])
                spec = ConfigRuleSpec(
                    identifier=identifier,
                    name=str(entry.get("name") or config_rule_name(identifier)),
                    input_parameters={str(k): str(v) for k, v in (entry.get("input_parameters") or {}).items()},
                    maximum_execution_frequency=str(entry.get("maximum_execution_frequency") or ""),
                )
        except (AttributeError, KeyError, TypeError) as error:
            raise _invalid(f"Config rule {entry!r}: {type(error).__name__}: {error}") from error
        specs.setdefault(spec.name, spec)
    return list(specs.values())


def config(context: StepContext) -> dict[str, Any]:
    """AWS Config in the request's region: the service-linked role, a recorder of every
    supported resource type (global ones included), a delivery channel to the payer's
    central bucket, recording started, and the blueprint's AWS-managed rules.

    Idempotent: every call is an upsert. Create-service-linked-role treats "already
    exists" as done; the recorder and the channel keep the name of any that already exist
    (AWS allows one of each); StartConfigurationRecorder on a recording recorder and
    PutConfigRule on an existing rule (same name) change nothing new.
    """
    inputs = context.inputs
    params = _params(context)
    bucket = log_archive_bucket(context.require("payer_settings"))
    account_id = str(context.require("account_id"))
    region = region_for(params, inputs)
    rules = config_rule_specs(params, regulated=bool(inputs.get("regulated")))
    session = _member_session(context)
    if params.get("create_service_linked_role", True):
        _ensure_config_service_linked_role(aws_client("iam", session=session))
    client = aws_client("config", session=session, region=region)

    with cloud.aws_errors("DescribeConfigurationRecorders"):
        recorders = client.describe_configuration_recorders()["ConfigurationRecorders"]
    recorder_name = str(recorders[0]["name"] if recorders else params["recorder_name"])
    # InvalidRoleException: a service-linked role made a moment ago is not usable yet.
    with cloud.aws_errors("PutConfigurationRecorder", retryable_codes=frozenset({"InvalidRoleException"})):
        client.put_configuration_recorder(
            ConfigurationRecorder={
                "name": recorder_name,
                "roleARN": config_role_arn(account_id=account_id, region=region),
                "recordingGroup": {"allSupported": True, "includeGlobalResourceTypes": True},
            }
        )
    with cloud.aws_errors("DescribeDeliveryChannels"):
        channels = client.describe_delivery_channels()["DeliveryChannels"]
    channel_name = str(channels[0]["name"] if channels else params["delivery_channel_name"])
    channel: dict[str, Any] = {
        "name": channel_name,
        "s3BucketName": bucket,
        "configSnapshotDeliveryProperties": {"deliveryFrequency": params["delivery_frequency"]},
    }
    if params.get("s3_key_prefix"):
        channel["s3KeyPrefix"] = params["s3_key_prefix"]
    with cloud.aws_errors("PutDeliveryChannel"):
        client.put_delivery_channel(DeliveryChannel=channel)
    with cloud.aws_errors("StartConfigurationRecorder"):
        client.start_configuration_recorder(ConfigurationRecorderName=recorder_name)

    tags = _tags(inputs)
    for rule in rules:
        body: dict[str, Any] = {
            "ConfigRuleName": rule.name,
            "Source": {"Owner": "AWS", "SourceIdentifier": rule.identifier},
        }
        if rule.input_parameters:
            body["InputParameters"] = json.dumps(rule.input_parameters)
        if rule.maximum_execution_frequency:
            body["MaximumExecutionFrequency"] = rule.maximum_execution_frequency
        with cloud.aws_errors("PutConfigRule"):
            client.put_config_rule(ConfigRule=body, Tags=tags)
    return {
        "recorder_name": recorder_name,
        "delivery_channel_name": channel_name,
        "config_rules": [rule.name for rule in rules],
    }


def _ensure_config_service_linked_role(client: Any) -> None:
    try:
        with cloud.aws_errors("CreateServiceLinkedRole"):
            client.create_service_linked_role(AWSServiceName=CONFIG_SERVICE)
    except PermanentError as error:
        # AWS says InvalidInput ("...has been taken in this account") when the role exists.
        if error.code not in {"InvalidInput", "EntityAlreadyExists"}:
            raise


# --- support --------------------------------------------------------------------------------


def support(context: StepContext) -> dict[str, Any]:
    """Ask AWS Support, from the payer's management account, to add the new account to
    the payer's Enterprise Support plan.

    Idempotent: before opening a case it reads every case of the management account
    (resolved ones included) and reuses one whose subject carries the account id.
    """
    params = _params(context)
    if not params.get("enabled", True):
        return {"skipped": True}
    inputs = context.inputs
    account_id = str(context.require("account_id"))
    session = management_session(payer_settings=context.require("payer_settings"))
    client = aws_client("support", session=session, region=params.get("region") or "us-east-1")
    with cloud.aws_errors("DescribeCases"):
        for page in client.get_paginator("describe_cases").paginate(includeResolvedCases=True, language="en"):
            for case in page.get("cases", []):
                if account_id in case.get("subject", ""):
                    return {"case_id": case["caseId"]}
    with cloud.aws_errors("CreateCase"):
        created = client.create_case(
            subject=f"Add account {account_id} to Enterprise Support",
            communicationBody=_support_request(inputs, account_id),
            serviceCode=params["service_code"],
            categoryCode=params["category_code"],
            severityCode=params["severity_code"],
            issueType=params["issue_type"],
            ccEmailAddresses=list(params.get("cc_email_addresses") or []),
            language="en",
        )
    return {"case_id": created["caseId"]}


def _support_request(inputs: Mapping[str, Any], account_id: str) -> str:
    payer_settings = inputs.get("payer_settings") or {}
    return (
        f"Please add the new member account {account_id} to the Enterprise Support plan of our "
        f"organization (management account {payer_settings.get('management_account_id', 'unknown')}).\n\n"
        f"Account name: {inputs.get('account_name', '')}\n"
        f"Account email: {inputs.get('account_email', '')}\n"
        f"Requested through Bespoke, request {inputs.get('request_id', '')}."
    )

"""The baseline steps' parameters: each step's defaults (a blueprint's ``params`` are laid
over them, key by key), how the IAM roles and Config rules among them read, and the step
catalog's ``check_params`` when a blueprint is saved."""

import re
from collections.abc import Mapping
from typing import Any

from apps.baseline import policies
from apps.baseline.contracts import ConfigRuleSpec, ManagedPolicySpec, RoleSpec
from apps.kernel.errors import PermanentError
from apps.kernel.steptools import invalid_params, merged_params

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


def check_params(step: str, given: Mapping[str, Any] | None) -> None:
    """A blueprint's parameters for ``step``, checked as the step will read them (the step
    catalog's check when a blueprint is saved)."""
    params = merged_params(step, given, DEFAULT_PARAMS[step])
    if step == "iam":
        role_specs(params)
        desired_alias(params["account_alias"], account_name="example-account")
    if step == "config":
        config_rule_specs(params, regulated=True)


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
        raise invalid_params("iam", f"account_alias must be true, false or an alias, not {setting!r}.")
    if not _ALIAS.match(alias):
        raise PermanentError(
            f"{alias!r} is not a valid account alias (3-63 of a-z, 0-9 and single dashes).",
            code="invalid_account_alias",
        )
    return alias


def role_specs(params: Mapping[str, Any]) -> list[RoleSpec]:
    """The ``roles`` parameter, checked: unique role names, one document per managed policy name."""
    entries = params.get("roles") or []
    if not isinstance(entries, list):
        raise invalid_params("iam", "roles must be a list.")
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
            raise invalid_params("iam", f"role {entry!r}: {type(error).__name__}: {error}") from error
        if any(spec.name == other.name for other in specs):
            raise invalid_params("iam", f"role {spec.name!r} is listed twice.")
        for policy in managed:
            if documents.setdefault(policy.name, policy.document) != policy.document:
                raise invalid_params("iam", f"managed policy {policy.name!r} has two different documents.")
        specs.append(spec)
    return specs


# --- config ---------------------------------------------------------------------------------


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
            raise invalid_params("config", f"Config rule {entry!r}: {type(error).__name__}: {error}") from error
        specs.setdefault(spec.name, spec)
    return list(specs.values())

"""The ``iam`` step: the SAML provider, the federated roles with their policies, the account
alias and the password policy of the member account."""

import json
from collections.abc import Iterable, Mapping
from typing import Any

from apps.baseline.contracts import SAML_AUDIENCE, ManagedPolicySpec, RoleSpec
from apps.baseline.steps import aws
from apps.baseline.steps.aws import same_document
from apps.baseline.steps.params import IAM_DEFAULT_PARAMS, desired_alias, role_specs
from apps.cloud import api as cloud
from apps.kernel.errors import PermanentError
from apps.kernel.steps import StepContext
from apps.kernel.steptools import aws_tags


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
    params = context.params(IAM_DEFAULT_PARAMS)
    roles = role_specs(params)
    payer_settings = context.require("payer_settings")
    alias = desired_alias(params.get("account_alias", True), account_name=context.require("account_name"))
    client = aws.client("iam", session=cloud.member_session_of(context.inputs))
    tags = aws_tags(inputs, request_tags=False)

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
    if default is not None and same_document(default.get("Document"), policy.document):
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
        if not same_document(current.get("AssumeRolePolicyDocument"), trust):
            with cloud.aws_errors("UpdateAssumeRolePolicy", retryable_codes=settling):
                client.update_assume_role_policy(RoleName=role.name, PolicyDocument=json.dumps(trust))
        with cloud.aws_errors("UpdateRole"):
            client.update_role(
                RoleName=role.name, Description=role.description, MaxSessionDuration=role.max_session_duration
            )
        inline = {p["PolicyName"]: p.get("PolicyDocument") for p in current.get("RolePolicyList", [])}
        attached = {p["PolicyArn"] for p in current.get("AttachedManagedPolicies", [])}
    for name, document in role.inline_policies.items():
        if not same_document(inline.get(name), document):
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

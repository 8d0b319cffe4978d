"""A payer's Organization-level guardrails as Bespoke keeps them: the OU an account lands in
(the payer's OU tree and its rule) and the service control policies (SCPs) attached to
those OUs, versioned and checked when saved. The steps that put them in place are in
``apps/accounts/steps/organization.py``; docs/guardrails.md says what each one is for."""

import json
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction

from apps.accounts.models import Payer, ServiceControlPolicy, ServiceControlPolicyVersion
from apps.kernel import clock, ids
from apps.kernel.errors import ApplicationError

SCP_PREFIX = "bespoke-"
ROOT = "Root"  # a target meaning the Organization's root
MAX_SCP_CHARACTERS = 5120  # Organizations' limit for an SCP document (whitespace excluded)

# Services whose endpoints live in us-east-1 (or no region) whatever the caller's region:
# a region deny must leave them alone, or the console and IAM stop working.
GLOBAL_SERVICE_ACTIONS = (
    "a4b:*",
    "account:*",
    "acm:*",
    "aws-marketplace:*",
    "aws-portal:*",
    "budgets:*",
    "ce:*",
    "chime:*",
    "cloudfront:*",
    "config:*",
    "cur:*",
    "directconnect:*",
    "ec2:DescribeRegions",
    "ec2:DescribeTransitGateways",
    "ec2:DescribeVpnGateways",
    "fms:*",
    "globalaccelerator:*",
    "health:*",
    "iam:*",
    "importexport:*",
    "kms:*",
    "mobileanalytics:*",
    "networkmanager:*",
    "organizations:*",
    "pricing:*",
    "route53:*",
    "route53domains:*",
    "route53-recovery-cluster:*",
    "route53-recovery-control-config:*",
    "route53-recovery-readiness:*",
    "s3:GetAccountPublic*",
    "s3:ListAllMyBuckets",
    "s3:ListMultiRegionAccessPoints",
    "s3:PutAccountPublic*",
    "shield:*",
    "sts:*",
    "support:*",
    "trustedadvisor:*",
    "waf-regional:*",
    "waf:*",
    "wafv2:*",
    "wellarchitected:*",
)


class InvalidGuardrail(ApplicationError):
    code = "invalid_guardrail"


# --- OU placement ---------------------------------------------------------------------


def ou_paths(tree: Any) -> list[str]:
    """The payer's OU tree as clean paths (``Workloads/Prod``); refuses anything else."""
    if not isinstance(tree, list) or not all(isinstance(path, str) and path.strip("/") for path in tree):
        raise InvalidGuardrail("An OU tree is a list of paths such as 'Workloads/Prod'.")
    return ["/".join(part.strip() for part in path.strip("/").split("/")) for path in tree]


def ou_every_path(tree: Iterable[str]) -> set[str]:
    """Every OU the tree makes, intermediate ones included (``Workloads`` of ``Workloads/Prod``)."""
    return {path for leaf in tree for path in ou_ancestry(leaf)[1:]}


def ou_rules_check(rules: Any, tree: Iterable[str]) -> None:
    """The mapping rule names only OUs of the tree."""
    if not isinstance(rules, Mapping) or set(rules) - {"regulated", "environments", "default"}:
        raise InvalidGuardrail('OU rules are {"regulated": path, "environments": {env: path}, "default": path}.')
    named = [rules.get("regulated"), rules.get("default"), *dict(rules.get("environments") or {}).values()]
    unknown = sorted({str(path) for path in named if path} - ou_every_path(tree))
    if unknown:
        raise InvalidGuardrail(f"OU rules name OUs outside the payer's tree: {', '.join(unknown)}.")


def ou_path_for(*, tree: list[str], rules: Mapping[str, Any], environment: str, regulated: bool) -> str:
    """The OU path a request lands in: the regulated OU for a regulated request, else its
    environment's, else the default; empty when the payer declares no rule for it."""
    if not tree:
        return ""
    if regulated and rules.get("regulated"):
        return str(rules["regulated"])
    by_environment = dict(rules.get("environments") or {})
    return str(by_environment.get(environment) or rules.get("default") or "")


def ou_ancestry(path: str) -> list[str]:
    """``Workloads/Prod`` → ``["Root", "Workloads", "Workloads/Prod"]``: SCPs on any of
    them apply to an account in the OU."""
    parts = path.split("/") if path else []
    return [ROOT, *("/".join(parts[: index + 1]) for index in range(len(parts)))]


# --- Service control policies -----------------------------------------------------------


def scp_document_check(document: Any) -> str:
    """The document minified as Organizations stores it; refuses what AWS would refuse."""
    if not isinstance(document, dict) or document.get("Version") != "2012-10-17":
        raise InvalidGuardrail('An SCP document is a JSON object with "Version": "2012-10-17".')
    statements = document.get("Statement")
    if not isinstance(statements, list) or not statements:
        raise InvalidGuardrail('An SCP document needs a non-empty "Statement" list.')
    for index, statement in enumerate(statements):
        if not isinstance(statement, dict) or statement.get("Effect") not in ("Allow", "Deny"):
            raise InvalidGuardrail(f"Statement {index}: Effect must be Allow or Deny.")
        if ("Action" in statement) == ("NotAction" in statement):
            raise InvalidGuardrail(f"Statement {index}: exactly one of Action and NotAction.")
        if "Principal" in statement or "NotPrincipal" in statement:
            raise InvalidGuardrail(f"Statement {index}: SCPs take no Principal.")
    minified = json.dumps(document, separators=(",", ":"), sort_keys=True)
    if len(minified) > MAX_SCP_CHARACTERS:
        raise InvalidGuardrail(
            f"The SCP document has {len(minified)} characters; Organizations takes {MAX_SCP_CHARACTERS}."
        )
    return minified


def baseline_scp_documents(
    *, allowed_regions: Iterable[str], role_prefix: str = "bespoke-"
) -> dict[str, dict[str, Any]]:
    """The four SCPs every payer starts with, by name (without the ``bespoke-`` prefix)."""
    protected_roles = [f"arn:aws:iam::*:role/{role_prefix}*", "arn:aws:iam::*:role/OrganizationAccountAccessRole"]
    return {
        "region-deny": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyOutsideAllowedRegions",
                    "Effect": "Deny",
                    "NotAction": list(GLOBAL_SERVICE_ACTIONS),
                    "Resource": "*",
                    "Condition": {"StringNotEquals": {"aws:RequestedRegion": sorted(allowed_regions)}},
                }
            ],
        },
        "deny-leave-organization": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyLeaveOrganization",
                    "Effect": "Deny",
                    "Action": "organizations:LeaveOrganization",
                    "Resource": "*",
                }
            ],
        },
        "protect-baseline": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyStoppingAuditTrails",
                    "Effect": "Deny",
                    "Action": [
                        "cloudtrail:DeleteTrail",
                        "cloudtrail:StopLogging",
                        "cloudtrail:UpdateTrail",
                        "config:DeleteConfigurationRecorder",
                        "config:DeleteDeliveryChannel",
                        "config:StopConfigurationRecorder",
                    ],
                    "Resource": "*",
                },
                {
                    "Sid": "DenyChangingBespokeRoles",
                    "Effect": "Deny",
                    "Action": [
                        "iam:AttachRolePolicy",
                        "iam:DeleteRole",
                        "iam:DeleteRolePolicy",
                        "iam:DetachRolePolicy",
                        "iam:PutRolePolicy",
                        "iam:UpdateAssumeRolePolicy",
                        "iam:UpdateRole",
                    ],
                    "Resource": protected_roles,
                    "Condition": {"StringNotLike": {"aws:PrincipalArn": protected_roles}},
                },
            ],
        },
        "deny-root-user": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyRootUser",
                    "Effect": "Deny",
                    "Action": "*",
                    "Resource": "*",
                    "Condition": {"StringLike": {"aws:PrincipalArn": "arn:aws:iam::*:root"}},
                }
            ],
        },
    }


@transaction.atomic
def scp_save(
    *,
    payer_name: str,
    name: str,
    document: dict[str, Any],
    target_ous: list[str],
    description: str = "",
    saved_by: str = "",
) -> ServiceControlPolicy:
    """Create or change a payer's SCP: its document checked (``invalid_guardrail``), its
    targets among the payer's OUs (or ``Root``). A changed document or target list is a
    new version; saving the same again changes nothing."""
    payer = Payer.objects.get(name=payer_name)
    scp_document_check(document)
    unknown = sorted(set(target_ous) - {ROOT, *ou_every_path(ou_paths(payer.ou_tree))})
    if unknown or not target_ous:
        raise InvalidGuardrail(
            f"SCP {name}: targets must be OUs of payer {payer_name}'s tree or Root; not {', '.join(unknown) or 'none'}."
        )
    now = clock.now()
    policy = ServiceControlPolicy.objects.select_for_update().filter(payer=payer, name=name).first()
    if policy is None:
        policy = ServiceControlPolicy.objects.create(
            id=ids.new_id(),
            payer=payer,
            name=name,
            description=description,
            document=document,
            target_ous=list(target_ous),
            updated_at=now,
        )
    elif policy.document != document or policy.target_ous != list(target_ous) or not policy.active:
        policy.version += 1
        policy.document, policy.target_ous, policy.description = document, list(target_ous), description
        policy.active, policy.updated_at = True, now
        policy.save()
    else:
        return policy
    ServiceControlPolicyVersion.objects.create(
        policy=policy,
        version=policy.version,
        document=document,
        target_ous=list(target_ous),
        created_at=now,
        created_by=saved_by,
    )
    return policy


@transaction.atomic
def guardrails_configure(
    *,
    payer_name: str,
    ou_tree: list[str],
    ou_rules: dict[str, Any],
    baseline_scps_on: list[str] | None = None,
    saved_by: str = "",
) -> None:
    """Set a payer's OU tree and rule and, when ``baseline_scps_on`` names OUs (or
    ``Root``), the four baseline SCPs attached to them."""
    payer = Payer.objects.select_for_update().get(name=payer_name)
    tree = ou_paths(ou_tree)
    ou_rules_check(ou_rules, tree)
    payer.ou_tree, payer.ou_rules = tree, dict(ou_rules)
    payer.save(update_fields=["ou_tree", "ou_rules"])
    if baseline_scps_on:
        for name, document in baseline_scp_documents(allowed_regions=payer.allowed_regions).items():
            scp_save(
                payer_name=payer_name,
                name=name,
                document=document,
                target_ous=list(baseline_scps_on),
                description=f"Bespoke baseline: {name.replace('-', ' ')}.",
                saved_by=saved_by,
            )


def scp_save_summary(
    *,
    payer_name: str,
    name: str,
    document: dict[str, Any],
    target_ous: list[str],
    description: str = "",
    saved_by: str = "",
) -> dict[str, Any]:
    """``scp_save`` as plain data: ``{"name", "version", "target_ous"}``."""
    policy = scp_save(
        payer_name=payer_name,
        name=name,
        document=document,
        target_ous=target_ous,
        description=description,
        saved_by=saved_by,
    )
    return {"name": policy.name, "version": policy.version, "target_ous": list(policy.target_ous)}


def payer_guardrails_tree(payer: Payer) -> list[dict[str, Any]]:
    """The payer's OU tree as the admin shows it, OU by OU (parents first): its path, its
    id in the Organization (once placed), the rule that sends accounts there, the SCPs
    attached to it and the accounts Bespoke last saw in it."""
    from apps.accounts.models import ManagedAccount

    rules = dict(payer.ou_rules or {})
    reasons: dict[str, list[str]] = {}
    if rules.get("regulated"):
        reasons.setdefault(str(rules["regulated"]), []).append("regulated")
    for environment, path in dict(rules.get("environments") or {}).items():
        reasons.setdefault(str(path), []).append(str(environment))
    if rules.get("default"):
        reasons.setdefault(str(rules["default"]), []).append("default")
    scps = list(ServiceControlPolicy.objects.filter(payer=payer, active=True).order_by("name"))
    ou_ids = dict(payer.ou_ids or {})
    rows = []
    for path in [ROOT, *sorted(ou_every_path(ou_paths(payer.ou_tree or [])))]:
        ou_id = ou_ids.get(path, "")
        accounts = (
            list(ManagedAccount.objects.filter(payer=payer, ou_id=ou_id).values_list("aws_account_id", flat=True))
            if ou_id
            else []
        )
        rows.append(
            {
                "path": path,
                "ou_id": ou_id,
                "rule": reasons.get(path, []),
                "scps": [f"{SCP_PREFIX}{scp.name} v{scp.version}" for scp in scps if path in scp.target_ous],
                "accounts": sorted(accounts),
            }
        )
    return rows

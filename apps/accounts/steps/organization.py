"""The Organization-level guardrails of a vend: ``ou_placement`` puts the account in the
OU its payer's rule names (creating the payer's declared OU tree first), and
``service_control_policies`` puts the payer's SCPs in Organizations and attaches them to
the OUs they are declared for. Their read-backs find an account outside its OU, an SCP
detached or edited outside Bespoke."""

import json
from collections.abc import Mapping
from typing import Any

from django.db import transaction

from apps.accounts import guardrails
from apps.accounts.models import ManagedAccount, Payer, ServiceControlPolicy
from apps.accounts.steps import aws
from apps.cloud import api as cloud
from apps.kernel.contracts import PlanFacts, ReadBack
from apps.kernel.errors import PermanentError
from apps.kernel.steps import StepContext
from apps.kernel.steptools import built_regions

SCP_TYPE = "SERVICE_CONTROL_POLICY"


def _root_id(org: Any) -> str:
    with cloud.aws_errors("ListRoots"):
        return str(org.list_roots()["Roots"][0]["Id"])


def _child_ou(org: Any, *, parent_id: str, name: str) -> str | None:
    with cloud.aws_errors("ListOrganizationalUnitsForParent"):
        for page in org.get_paginator("list_organizational_units_for_parent").paginate(ParentId=parent_id):
            for unit in page["OrganizationalUnits"]:
                if unit["Name"] == name:
                    return str(unit["Id"])
    return None


def ou_ids(
    org: Any, tree: list[str], *, create: bool, payer: Payer | None = None, root_id: str | None = None
) -> dict[str, str]:
    """Each path of ``tree`` (and ``Root``) to its OU id; missing OUs are created when
    ``create``, else left out. ``root_id``: the root's id when the caller has just read it.

    Vends of one payer run at once: when some OU is missing, ``payer``'s row is locked
    while they are looked up again and created, so two runs never both create one (AWS
    refuses the second with DuplicateOrganizationalUnitException; the emulator makes a
    second OU of the same name). Once the tree exists no lock is taken."""
    root = root_id or _root_id(org)
    found = _ou_ids(org, tree, create=False, root=root)
    if not create or all(path in found for path in tree):
        return found
    if payer is None:
        return _ou_ids(org, tree, create=True, root=root)
    with transaction.atomic():
        Payer.objects.select_for_update().filter(pk=payer.pk).first()
        return _ou_ids(org, tree, create=True, root=root)


def _ou_ids(org: Any, tree: list[str], *, create: bool, root: str) -> dict[str, str]:
    found = {guardrails.ROOT: root}
    for path in tree:
        parent, walked = root, []
        for name in path.split("/"):
            walked.append(name)
            key = "/".join(walked)
            if key not in found:
                unit = _child_ou(org, parent_id=parent, name=name)
                if unit is None and not create:
                    break
                if unit is None:
                    unit = _create_ou(org, parent_id=parent, name=name)
                found[key] = unit
            parent = found[key]
    return found


def _create_ou(org: Any, *, parent_id: str, name: str) -> str:
    """Create the OU, or take the one of that name made under ``parent_id`` since it was
    looked up (by an earlier delivery of the step, or by hand)."""
    try:
        with cloud.aws_errors("CreateOrganizationalUnit"):
            return str(org.create_organizational_unit(ParentId=parent_id, Name=name)["OrganizationalUnit"]["Id"])
    except PermanentError as error:
        existing = _child_ou(org, parent_id=parent_id, name=name)
        if error.code != "DuplicateOrganizationalUnitException" or existing is None:
            raise
        return existing


def _placement(payer: Payer, inputs: Mapping[str, Any]) -> str:
    return guardrails.ou_path_for(
        tree=list(payer.ou_tree),
        rules=dict(payer.ou_rules),
        environment=str(inputs.get("environment", "")),
        regulated=bool(inputs.get("regulated")),
    )


def ou_placement(context: StepContext) -> dict[str, Any]:
    """Create the payer's declared OU tree where it is missing and move the account into
    the OU the payer's rule gives its environment and regulation; a payer with no rule
    for it keeps the account in ``parent_ou_id`` (or the root).

    Idempotent: OUs are looked up by name under their parent before being created (one
    created since is taken), and the account moves only when it is elsewhere (ListParents
    first; a move that finds it already there is done).
    """
    payer = Payer.objects.get(name=context.require("payer"))
    account_id = str(context.require("account_id"))
    org = aws.organizations(payer)
    path = _placement(payer, context.inputs)
    units = ou_ids(org, list(payer.ou_tree), create=True, payer=payer) if payer.ou_tree else {}
    if units and units != payer.ou_ids:
        Payer.objects.filter(pk=payer.pk).update(ou_ids=units)
    ou_id = units[path] if path else payer.parent_ou_id
    if ou_id:
        aws.move_to_ou(org, account_id=account_id, ou_id=ou_id)
    # The regions the run builds in: the compliance poller reads the guardrails there.
    placed: dict[str, Any] = {"regions": built_regions(context.inputs)} | ({"ou_id": ou_id} if ou_id else {})
    ManagedAccount.objects.filter(payer=payer, aws_account_id=account_id).update(**placed)
    return {"ou_id": ou_id or units.get(guardrails.ROOT) or _root_id(org), "ou_path": path or guardrails.ROOT}


def _policies(org: Any) -> dict[str, dict[str, Any]]:
    with cloud.aws_errors("ListPolicies"):
        return {
            policy["Name"]: policy
            for page in org.get_paginator("list_policies").paginate(Filter=SCP_TYPE)
            for policy in page["Policies"]
        }


def _targets(org: Any, policy_id: str) -> set[str]:
    with cloud.aws_errors("ListTargetsForPolicy"):
        return {
            target["TargetId"]
            for page in org.get_paginator("list_targets_for_policy").paginate(PolicyId=policy_id)
            for target in page["Targets"]
        }


def _content(org: Any, policy_id: str) -> Any:
    with cloud.aws_errors("DescribePolicy"):
        return json.loads(org.describe_policy(PolicyId=policy_id)["Policy"]["Content"])


def _enable_scps(org: Any) -> str:
    """SCPs enabled on the root; the root's id."""
    with cloud.aws_errors("ListRoots"):
        root = org.list_roots()["Roots"][0]
    if not any(kind["Type"] == SCP_TYPE and kind["Status"] == "ENABLED" for kind in root.get("PolicyTypes", [])):
        try:
            with cloud.aws_errors("EnablePolicyType"):
                org.enable_policy_type(RootId=root["Id"], PolicyType=SCP_TYPE)
        except PermanentError as error:
            if error.code != "PolicyTypeAlreadyEnabledException":
                raise
    return str(root["Id"])


def _create_policy(org: Any, *, name: str, content: str, description: str, payer: str) -> str:
    """Create the SCP, or take the one a concurrent run (another vend of the same payer)
    created since the policies were listed."""
    try:
        with cloud.aws_errors("CreatePolicy"):
            return str(
                org.create_policy(
                    Content=content,
                    Description=description,
                    Name=name,
                    Type=SCP_TYPE,
                    Tags=[{"Key": "bespoke:payer", "Value": payer}],
                )["Policy"]["PolicySummary"]["Id"]
            )
    except PermanentError as error:
        existing = _policies(org).get(name)
        if error.code != "DuplicatePolicyException" or existing is None:
            raise
        return str(existing["Id"])


def _attach(org: Any, *, policy_id: str, target_id: str) -> None:
    """Attach the policy; one attached since its targets were listed (by an earlier
    delivery of the step, or another vend of the payer) is as good."""
    try:
        with cloud.aws_errors("AttachPolicy"):
            org.attach_policy(PolicyId=policy_id, TargetId=target_id)
    except PermanentError as error:
        if error.code != "DuplicatePolicyAttachmentException":
            raise


def service_control_policies(context: StepContext) -> dict[str, Any]:
    """Put each of the payer's SCPs in Organizations as ``bespoke-<name>`` with the
    document Bespoke holds, attached to the OUs it is declared for (SCPs enabled on the
    root first).

    Idempotent and converging: a policy is found by name before being created, its
    document is rewritten only when it differs from Bespoke's (an edit outside Bespoke
    is undone), and it is attached only where it is not (a detachment is undone). A
    policy created, or attached, by another vend of the payer (or an earlier delivery of
    this step) since the look-up is taken as it is.
    """
    payer = Payer.objects.get(name=context.require("payer"))
    org = aws.organizations(payer)
    scps = list(ServiceControlPolicy.objects.filter(payer=payer, active=True))
    if not scps:
        return {"service_control_policies": []}
    root_id = _enable_scps(org)
    units = ou_ids(org, list(payer.ou_tree), create=True, payer=payer, root_id=root_id)
    existing = _policies(org)
    for scp in scps:
        name = guardrails.SCP_PREFIX + scp.name
        minified = guardrails.scp_document_check(scp.document)
        description = scp.description or f"Bespoke SCP {scp.name}"
        if name in existing:
            policy_id = str(existing[name]["Id"])
            if _content(org, policy_id) != scp.document:
                with cloud.aws_errors("UpdatePolicy"):
                    org.update_policy(PolicyId=policy_id, Content=minified, Description=description)
        else:
            policy_id = _create_policy(org, name=name, content=minified, description=description, payer=payer.name)
        attached = _targets(org, policy_id)
        for path in scp.target_ous:
            if units[path] not in attached:
                _attach(org, policy_id=policy_id, target_id=units[path])
        if scp.policy_id != policy_id:
            ServiceControlPolicy.objects.filter(pk=scp.pk).update(policy_id=policy_id)
    return {"service_control_policies": [guardrails.SCP_PREFIX + scp.name for scp in scps]}


# --- Drift: what the read-backs, the reconciler and the poller report -------------------


def scp_drift(payer: Payer, *, only_ou_path: str | None = None) -> list[str]:
    """One sentence per SCP of ``payer`` missing, edited or detached in Organizations
    (only those applying to ``only_ou_path`` and its ancestors, when given)."""
    return [
        problem for problems in scp_drift_by_policy(payer, only_ou_path=only_ou_path).values() for problem in problems
    ]


def scp_drift_by_policy(payer: Payer, *, only_ou_path: str | None = None) -> dict[str, list[str]]:
    """``scp_drift`` by the SCP's name in Bespoke (every checked SCP, ``[]`` when in place)."""
    scps = list(ServiceControlPolicy.objects.filter(payer=payer, active=True))
    if only_ou_path is not None:
        lineage = set(guardrails.ou_ancestry(only_ou_path))
        scps = [scp for scp in scps if lineage & set(scp.target_ous)]
    if not scps:
        return {}
    org = aws.organizations(payer)
    units = ou_ids(org, list(payer.ou_tree), create=False)
    existing = _policies(org)
    drift: dict[str, list[str]] = {}
    for scp in scps:
        name = guardrails.SCP_PREFIX + scp.name
        problems = drift.setdefault(scp.name, [])
        if name not in existing:
            problems.append(f"SCP {name} is missing from the Organization.")
            continue
        policy_id = str(existing[name]["Id"])
        if _content(org, policy_id) != scp.document:
            problems.append(f"SCP {name} was edited outside Bespoke.")
        attached = _targets(org, policy_id)
        for path in scp.target_ous:
            if units.get(path) not in attached:
                problems.append(f"SCP {name} is not attached to OU {path}.")
    return drift


def ou_placement_problems(check: ReadBack) -> list[str]:
    payer = Payer.objects.get(name=check.payer_settings["name"])
    path = _placement(payer, check.inputs)
    wanted = (
        ou_ids(aws.organizations(payer), list(payer.ou_tree), create=False).get(path) if path else payer.parent_ou_id
    )
    if not wanted:
        return []
    with cloud.aws_errors("ListParents"):
        parent = aws.organizations(payer).list_parents(ChildId=check.account_id)["Parents"][0]["Id"]
    return [] if parent == wanted else [f"The account is in {parent}, not in OU {path or wanted}."]


def service_control_policies_problems(check: ReadBack) -> list[str]:
    payer = Payer.objects.get(name=check.payer_settings["name"])
    return scp_drift(payer, only_ou_path=_placement(payer, check.inputs))


# --- What a dry run says ---------------------------------------------------------------


def describe_ou_placement(given: Mapping[str, Any], facts: PlanFacts) -> list[str]:
    payer = Payer.objects.get(name=facts.payer)
    path = guardrails.ou_path_for(
        tree=list(payer.ou_tree), rules=dict(payer.ou_rules), environment=facts.environment, regulated=facts.regulated
    )
    if path:
        return [f"OU {path} (created if missing)"]
    return [f"OU {payer.parent_ou_id}" if payer.parent_ou_id else "the Organization's root"]


def describe_service_control_policies(given: Mapping[str, Any], facts: PlanFacts) -> list[str]:
    payer = Payer.objects.get(name=facts.payer)
    path = guardrails.ou_path_for(
        tree=list(payer.ou_tree), rules=dict(payer.ou_rules), environment=facts.environment, regulated=facts.regulated
    )
    lineage = set(guardrails.ou_ancestry(path))
    return [
        f"SCP {guardrails.SCP_PREFIX}{scp.name} v{scp.version} (on {', '.join(scp.target_ous)})"
        for scp in ServiceControlPolicy.objects.filter(payer=payer, active=True)
        if lineage & set(scp.target_ous)
    ]

"""OU placement and service control policies against the emulated Organization: the account
lands in the OU its payer's rule names with the payer's SCPs attached; an SCP detached or
edited outside Bespoke is reported as drift and put back by a second run."""

import json
from collections.abc import Callable
from typing import Any

import pytest

from apps.accounts import guardrails
from apps.accounts.models import ManagedAccount, Payer, ServiceControlPolicy, ServiceControlPolicyVersion
from apps.accounts.steps import aws as accounts_aws
from apps.accounts.steps import organization
from apps.kernel.contracts import ReadBack
from apps.kernel.errors import PermanentError
from apps.kernel.steps import StepContext
from tests.conftest import EmulatedAws
from tests.support import factories

pytestmark = pytest.mark.django_db

MakeContext = Callable[..., StepContext]
TREE = ["Workloads/Prod", "Workloads/NonProd", "Regulated"]
RULES = {"regulated": "Regulated", "environments": {"prd": "Workloads/Prod"}, "default": "Workloads/NonProd"}


@pytest.fixture
def governed(payer_settings: dict[str, Any]) -> None:
    guardrails.guardrails_configure(
        payer_name="demo", ou_tree=TREE, ou_rules=RULES, baseline_scps_on=["Workloads", "Regulated"]
    )


def ou_path_of(aws: EmulatedAws, account_id: str) -> str:
    org = aws.client("organizations")
    names: list[str] = []
    child = account_id
    while True:
        parent = org.list_parents(ChildId=child)["Parents"][0]
        if parent["Type"] == "ROOT":
            return "/".join(reversed(names))
        names.append(org.describe_organizational_unit(OrganizationalUnitId=parent["Id"])["OrganizationalUnit"]["Name"])
        child = parent["Id"]


def scps_on(aws: EmulatedAws, target: str) -> set[str]:
    policies = aws.client("organizations").list_policies_for_target(TargetId=target, Filter="SERVICE_CONTROL_POLICY")
    return {policy["Name"] for policy in policies["Policies"]} - {"FullAWSAccess"}


def read_back(step_context: MakeContext, **inputs: Any) -> ReadBack:
    return ReadBack(inputs=step_context("verify", **inputs).inputs, params={}, expectations={})


def vend(step_context: MakeContext, **inputs: Any) -> dict[str, Any]:
    placed = organization.ou_placement(step_context("ou_placement", **inputs))
    return placed | organization.service_control_policies(step_context("service_control_policies", **inputs))


BASELINE_SCPS = {
    "bespoke-region-deny",
    "bespoke-deny-leave-organization",
    "bespoke-protect-baseline",
    "bespoke-deny-root-user",
}


def test_a_production_account_lands_in_its_ou_with_the_payers_scps_attached(
    aws: EmulatedAws, governed: None, step_context: MakeContext, member_account: str
) -> None:
    outputs = vend(step_context, environment="prd")

    assert ou_path_of(aws, member_account) == "Workloads/Prod"
    assert outputs["ou_path"] == "Workloads/Prod"
    assert set(outputs["service_control_policies"]) == BASELINE_SCPS
    units = organization.ou_ids(aws.client("organizations"), TREE, create=False)
    assert set(units) == {"Root", "Workloads", "Workloads/Prod", "Workloads/NonProd", "Regulated"}
    assert scps_on(aws, units["Workloads"]) == BASELINE_SCPS
    assert scps_on(aws, units["Regulated"]) == BASELINE_SCPS
    assert organization.service_control_policies_problems(read_back(step_context, environment="prd")) == []
    assert organization.ou_placement_problems(read_back(step_context, environment="prd")) == []
    region_deny = ServiceControlPolicy.objects.get(name="region-deny")
    condition = region_deny.document["Statement"][0]["Condition"]["StringNotEquals"]
    assert condition == {"aws:RequestedRegion": ["us-east-1", "us-west-2"]}
    assert "iam:*" in region_deny.document["Statement"][0]["NotAction"]


def test_regulated_and_other_environments_follow_the_rule(
    aws: EmulatedAws, governed: None, step_context: MakeContext, member_account: str
) -> None:
    vend(step_context, environment="dev")
    assert ou_path_of(aws, member_account) == "Workloads/NonProd"

    vend(step_context, environment="prd", regulated=True)
    assert ou_path_of(aws, member_account) == "Regulated"


def test_a_second_run_changes_nothing(
    aws: EmulatedAws, governed: None, step_context: MakeContext, member_account: str
) -> None:
    vend(step_context, environment="prd")
    org = aws.client("organizations")
    before = {policy["Id"] for policy in org.list_policies(Filter="SERVICE_CONTROL_POLICY")["Policies"]}
    ous_before = org.list_organizational_units_for_parent(ParentId=org.list_roots()["Roots"][0]["Id"])

    vend(step_context, environment="prd")

    assert {policy["Id"] for policy in org.list_policies(Filter="SERVICE_CONTROL_POLICY")["Policies"]} == before
    ous_after = org.list_organizational_units_for_parent(ParentId=org.list_roots()["Roots"][0]["Id"])
    assert ous_after["OrganizationalUnits"] == ous_before["OrganizationalUnits"]


def test_an_scp_created_since_the_step_listed_them_is_taken_as_it_is(
    aws: EmulatedAws,
    governed: None,
    step_context: MakeContext,
    member_account: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A policy created by name since the step listed them (by hand, or by a vend that
    did not wait for the payer's lock) is taken as it is instead of failing the step."""
    vend(step_context, environment="prd")
    org = aws.client("organizations")
    before = {policy["Id"] for policy in org.list_policies(Filter="SERVICE_CONTROL_POLICY")["Policies"]}
    # What this run saw: no policy yet (they were all created since).
    looked: set[str] = set()

    def stale(real: Callable[..., Any], empty: Any) -> Callable[..., Any]:
        def first_look(*args: Any, **kwargs: Any) -> Any:
            if real.__name__ not in looked:
                looked.add(real.__name__)
                return empty
            return real(*args, **kwargs)

        return first_look

    monkeypatch.setattr(organization, "_policies", stale(organization._policies, {}))
    outputs = vend(step_context, environment="prd")

    assert set(outputs["service_control_policies"]) == BASELINE_SCPS
    assert {policy["Id"] for policy in org.list_policies(Filter="SERVICE_CONTROL_POLICY")["Policies"]} == before
    assert ou_path_of(aws, member_account) == "Workloads/Prod"
    monkeypatch.undo()
    assert organization.service_control_policies_problems(read_back(step_context, environment="prd")) == []


def policy_ids(aws: EmulatedAws) -> set[str]:
    policies = aws.client("organizations").list_policies(Filter="SERVICE_CONTROL_POLICY")["Policies"]
    return {policy["Id"] for policy in policies}


def test_an_scp_attached_since_its_targets_were_listed_is_done(
    aws: EmulatedAws,
    governed: None,
    step_context: MakeContext,
    member_account: str,
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
) -> None:
    """A redelivered step (or another vend of the payer) finds the SCPs attached after
    this one listed their targets: AWS's DuplicatePolicyAttachmentException is success."""
    vend(step_context, environment="prd")
    before = policy_ids(aws)
    monkeypatch.setattr(organization, "_targets", lambda org, policy_id: set())
    settings.AWS_FAULTS = "organizations:AttachPolicy:DuplicatePolicyAttachmentException"

    outputs = organization.service_control_policies(step_context("service_control_policies", environment="prd"))

    assert set(outputs["service_control_policies"]) == BASELINE_SCPS
    assert policy_ids(aws) == before
    settings.AWS_FAULTS = ""
    monkeypatch.undo()
    assert organization.service_control_policies_problems(read_back(step_context, environment="prd")) == []


def test_an_attach_refused_for_another_reason_still_fails_the_step(
    aws: EmulatedAws,
    governed: None,
    step_context: MakeContext,
    member_account: str,
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
) -> None:
    vend(step_context, environment="prd")
    monkeypatch.setattr(organization, "_targets", lambda org, policy_id: set())
    settings.AWS_FAULTS = "organizations:AttachPolicy:PolicyNotFoundException"

    with pytest.raises(PermanentError) as raised:
        organization.service_control_policies(step_context("service_control_policies", environment="prd"))

    assert raised.value.code == "PolicyNotFoundException"


def test_an_ou_created_since_it_was_looked_up_is_taken(
    aws: EmulatedAws,
    governed: None,
    step_context: MakeContext,
    member_account: str,
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
) -> None:
    """Every OU exists, but this delivery looked before they did: AWS refuses each
    creation with DuplicateOrganizationalUnitException, and the OU of that name is taken."""
    vend(step_context, environment="prd")
    org = aws.client("organizations")
    units = organization.ou_ids(org, TREE, create=False)
    attempted: set[tuple[str, str]] = set()
    real_child, real_create = organization._child_ou, organization._create_ou

    def stale_child(org: Any, *, parent_id: str, name: str) -> str | None:
        return real_child(org, parent_id=parent_id, name=name) if (parent_id, name) in attempted else None

    def create(org: Any, *, parent_id: str, name: str) -> str:
        attempted.add((parent_id, name))
        return str(real_create(org, parent_id=parent_id, name=name))

    monkeypatch.setattr(organization, "_child_ou", stale_child)
    monkeypatch.setattr(organization, "_create_ou", create)
    settings.AWS_FAULTS = "organizations:CreateOrganizationalUnit:DuplicateOrganizationalUnitException"

    outputs = organization.ou_placement(step_context("ou_placement", environment="prd"))

    assert len(attempted) == len(units) - 1  # every OU but the root
    assert outputs == {"ou_id": units["Workloads/Prod"], "ou_path": "Workloads/Prod"}
    settings.AWS_FAULTS = ""
    monkeypatch.undo()
    assert organization.ou_ids(org, TREE, create=False) == units
    assert ou_path_of(aws, member_account) == "Workloads/Prod"


def test_a_move_refused_because_the_account_is_there_already_is_done(
    aws: EmulatedAws,
    governed: None,
    step_context: MakeContext,
    member_account: str,
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
) -> None:
    """The account was moved (by an earlier delivery) after this one read its parent:
    MoveAccount's DuplicateAccountException or SourceParentNotFoundException is success
    when the account is in the destination, and fails the step when it is not."""
    vend(step_context, environment="prd")
    org = aws.client("organizations")
    units = organization.ou_ids(org, TREE, create=False)
    real_parent = accounts_aws._parent_of
    reads: list[str] = []

    def stale_first(org: Any, account_id: str) -> str:
        reads.append(account_id)
        return units["Root"] if len(reads) == 1 else real_parent(org, account_id)

    monkeypatch.setattr(accounts_aws, "_parent_of", stale_first)
    for refusal in sorted(accounts_aws.MOVED_SINCE):
        reads.clear()
        settings.AWS_FAULTS = f"organizations:MoveAccount:{refusal}"
        accounts_aws.move_to_ou(
            accounts_aws.organizations(Payer.objects.get(name="demo")),
            account_id=member_account,
            ou_id=units["Workloads/Prod"],
        )
        assert len(reads) == 2
        assert ou_path_of(aws, member_account) == "Workloads/Prod"

        reads.clear()
        with pytest.raises(PermanentError) as raised:
            accounts_aws.move_to_ou(
                accounts_aws.organizations(Payer.objects.get(name="demo")),
                account_id=member_account,
                ou_id=units["Regulated"],
            )
        assert raised.value.code == refusal
        assert ou_path_of(aws, member_account) == "Workloads/Prod"


def test_an_scp_detached_or_edited_outside_bespoke_is_drift_until_reapplied(
    aws: EmulatedAws, governed: None, step_context: MakeContext, member_account: str
) -> None:
    vend(step_context, environment="prd")
    org = aws.client("organizations")
    policies = {
        policy["Name"]: policy["Id"] for policy in org.list_policies(Filter="SERVICE_CONTROL_POLICY")["Policies"]
    }
    workloads = organization.ou_ids(org, TREE, create=False)["Workloads"]
    org.detach_policy(PolicyId=policies["bespoke-deny-root-user"], TargetId=workloads)
    org.update_policy(
        PolicyId=policies["bespoke-deny-leave-organization"],
        Content=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        ),
    )

    problems = organization.service_control_policies_problems(read_back(step_context, environment="prd"))
    assert problems == [
        "SCP bespoke-deny-leave-organization was edited outside Bespoke.",
        "SCP bespoke-deny-root-user is not attached to OU Workloads.",
    ]

    vend(step_context, environment="prd")

    assert organization.scp_drift(Payer.objects.get(name="demo")) == []
    assert scps_on(aws, workloads) == BASELINE_SCPS


def test_an_account_moved_out_of_its_ou_is_read_back_and_moved_again(
    aws: EmulatedAws, governed: None, step_context: MakeContext, member_account: str
) -> None:
    vend(step_context, environment="prd")
    org = aws.client("organizations")
    units = organization.ou_ids(org, TREE, create=False)
    org.move_account(
        AccountId=member_account, SourceParentId=units["Workloads/Prod"], DestinationParentId=units["Root"]
    )

    assert organization.ou_placement_problems(read_back(step_context, environment="prd")) == [
        f"The account is in {units['Root']}, not in OU Workloads/Prod."
    ]
    vend(step_context, environment="prd")
    assert ou_path_of(aws, member_account) == "Workloads/Prod"


def test_a_payer_without_an_ou_tree_keeps_its_parent_ou(
    aws: EmulatedAws, payer_settings: dict[str, Any], step_context: MakeContext, member_account: str
) -> None:
    org = aws.client("organizations")
    legacy = org.create_organizational_unit(ParentId=org.list_roots()["Roots"][0]["Id"], Name="Legacy")
    Payer.objects.filter(name="demo").update(parent_ou_id=legacy["OrganizationalUnit"]["Id"])
    factories.account(aws_account_id=member_account)

    outputs = vend(step_context, environment="prd")

    assert outputs == {"ou_id": legacy["OrganizationalUnit"]["Id"], "ou_path": "Root", "service_control_policies": []}
    assert ou_path_of(aws, member_account) == "Legacy"
    assert ManagedAccount.objects.get(aws_account_id=member_account).ou_id == legacy["OrganizationalUnit"]["Id"]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"Statement": []}, "Version"),
        ({"Version": "2012-10-17", "Statement": []}, "non-empty"),
        ({"Version": "2012-10-17", "Statement": [{"Effect": "Maybe", "Action": "*"}]}, "Effect"),
        ({"Version": "2012-10-17", "Statement": [{"Effect": "Deny"}]}, "Action"),
        (
            {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*", "Principal": "*"}]},
            "Principal",
        ),
        (
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Deny", "Action": [f"s3:Get{n:05}" for n in range(500)]}],
            },
            "5120",
        ),
    ],
)
def test_an_invalid_scp_is_refused_when_saved(payer: Any, document: dict[str, Any], message: str) -> None:
    with pytest.raises(guardrails.InvalidGuardrail, match=message) as refused:
        guardrails.scp_save(payer_name="demo", name="bad", document=document, target_ous=["Root"])
    assert refused.value.code == "invalid_guardrail"
    assert not ServiceControlPolicy.objects.exists()


def test_scps_are_versioned_and_must_target_the_payers_ous(payer: Any) -> None:
    guardrails.guardrails_configure(payer_name="demo", ou_tree=TREE, ou_rules=RULES)
    deny: dict[str, Any] = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": "ec2:*", "Resource": "*"}],
    }
    with pytest.raises(guardrails.InvalidGuardrail, match="Sandbox"):
        guardrails.scp_save(payer_name="demo", name="no-ec2", document=deny, target_ous=["Sandbox"])

    guardrails.scp_save(payer_name="demo", name="no-ec2", document=deny, target_ous=["Workloads/NonProd"])
    guardrails.scp_save(payer_name="demo", name="no-ec2", document=deny, target_ous=["Workloads/NonProd"])
    changed = {**deny, "Statement": [{**deny["Statement"][0], "Action": "ec2:RunInstances"}]}
    policy = guardrails.scp_save(payer_name="demo", name="no-ec2", document=changed, target_ous=["Workloads/NonProd"])

    assert policy.version == 2
    assert list(ServiceControlPolicyVersion.objects.filter(policy=policy).values_list("version", flat=True)) == [2, 1]


def test_ou_rules_must_name_ous_of_the_tree(payer: Any) -> None:
    with pytest.raises(guardrails.InvalidGuardrail, match="Sandbox"):
        guardrails.guardrails_configure(payer_name="demo", ou_tree=TREE, ou_rules={"default": "Sandbox"})

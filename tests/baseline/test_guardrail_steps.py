"""The account guardrail steps against the emulated AWS: alternate contacts, S3 Block Public
Access, EBS encryption by default, IAM Access Analyzer, GuardDuty and Security Hub under the
payer's delegated administrator, and the monthly budget — present in every built region,
read back, and restored by a second run after a change outside Bespoke.

The emulator has no IAM Access Analyzer and no GuardDuty/Security Hub invitations
(ListInvitations, InviteMembers, AcceptAdministratorInvitation, GuardDuty's members):
those calls are answered by botocore's Stubber (tests/support/stubs.py)."""

from collections.abc import Callable
from typing import Any

import pytest

from apps.accounts.models import Payer
from apps.baseline import guardrail_readback
from apps.baseline.steps import budget as budget_step
from apps.baseline.steps import hygiene, security_services
from apps.kernel.contracts import ReadBack
from apps.kernel.errors import PermanentError
from apps.kernel.steps import StepContext
from tests.conftest import EmulatedAws
from tests.support.stubs import Stubs, install_stubs

pytestmark = pytest.mark.django_db

MakeContext = Callable[..., StepContext]
REGIONS = ["us-east-1", "us-west-2"]
CONTACTS = {
    "billing": {"name": "Billing Team", "title": "Billing", "email": "billing@example.com", "phone": "+1 555 0100"},
    "operations": {"name": "Ops", "title": "Operations", "email": "ops@example.com", "phone": "+1 555 0101"},
    "security": {"name": "SecOps", "title": "Security", "email": "security@example.com", "phone": "+1 555 0102"},
}


@pytest.fixture
def stubs(monkeypatch: pytest.MonkeyPatch) -> Stubs:
    return install_stubs(monkeypatch)


@pytest.fixture
def contacts(payer_settings: dict[str, Any]) -> dict[str, Any]:
    Payer.objects.filter(name="demo").update(alternate_contacts=CONTACTS)
    return {**payer_settings, "alternate_contacts": CONTACTS}


def stub_analyzers(stubs: Stubs, account: str, *, existing: bool = False) -> None:
    for region in REGIONS:
        stubber = stubs.stub("accessanalyzer", region, account)
        arn = f"arn:aws:access-analyzer:{region}:{account}:analyzer/bespoke-account"
        analyzer = {
            "arn": arn,
            "name": "bespoke-account",
            "type": "ACCOUNT",
            "createdAt": "2026-01-01",
            "status": "ACTIVE",
        }
        if existing:
            stubber.add_response("list_analyzers", {"analyzers": [analyzer]}, {"type": "ACCOUNT"})
        else:
            stubber.add_response("list_analyzers", {"analyzers": []}, {"type": "ACCOUNT"})
            stubber.add_response("create_analyzer", {"arn": arn})


def test_hygiene_settings_are_present_in_every_built_region(
    aws: EmulatedAws, stubs: Stubs, contacts: dict[str, Any], step_context: MakeContext, member_account: str
) -> None:
    stub_analyzers(stubs, member_account)
    context = step_context("account_hygiene", regions=REGIONS, payer_settings=contacts)

    outputs = hygiene.account_hygiene(context)

    assert outputs["alternate_contacts"] == ["billing", "operations", "security"]
    assert outputs["ebs_encryption_regions"] == REGIONS
    assert set(outputs["access_analyzers"]) == set(REGIONS)
    account = aws.member_client("account", account_id=member_account)
    security = account.get_alternate_contact(AlternateContactType="SECURITY")["AlternateContact"]
    assert security["EmailAddress"] == "security@example.com"
    operations = account.get_alternate_contact(AlternateContactType="OPERATIONS")["AlternateContact"]
    # The request's technical contact is the operations contact.
    assert operations["EmailAddress"] == f"{context.inputs['technical_contact']['username']}@example.com"
    s3control = aws.member_client("s3control", account_id=member_account)
    block = s3control.get_public_access_block(AccountId=member_account)["PublicAccessBlockConfiguration"]
    assert block == hygiene.PUBLIC_ACCESS_BLOCK
    for region in REGIONS:
        ec2 = aws.member_client("ec2", account_id=member_account, region=region)
        assert ec2.get_ebs_encryption_by_default()["EbsEncryptionByDefault"] is True
    stubs.assert_all_used()

    stub_analyzers(stubs, member_account, existing=True)
    check = ReadBack(inputs=context.inputs, params={}, expectations={})
    assert guardrail_readback.account_hygiene_problems(check) == []
    stubs.assert_all_used()


def test_an_analyzer_made_since_the_look_up_is_taken(
    aws: EmulatedAws, stubs: Stubs, contacts: dict[str, Any], step_context: MakeContext, member_account: str
) -> None:
    """CreateAnalyzer answers ConflictException for an analyzer of that name made since the
    step listed them (by an earlier delivery): the one there is taken; any other refusal,
    or a conflict with no such analyzer, fails the step."""
    arns = {}
    for region in REGIONS:
        stubber = stubs.stub("accessanalyzer", region, member_account)
        arns[region] = f"arn:aws:access-analyzer:{region}:{member_account}:analyzer/bespoke-account"
        analyzer = {
            "arn": arns[region],
            "name": "bespoke-account",
            "type": "ACCOUNT",
            "createdAt": "2026-01-01",
            "status": "ACTIVE",
        }
        stubber.add_response("list_analyzers", {"analyzers": []}, {"type": "ACCOUNT"})
        stubber.add_client_error("create_analyzer", "ConflictException", http_status_code=409)
        stubber.add_response("list_analyzers", {"analyzers": [analyzer]}, {"type": "ACCOUNT"})
    context = step_context("account_hygiene", regions=REGIONS, payer_settings=contacts)

    outputs = hygiene.account_hygiene(context)

    assert outputs["access_analyzers"] == arns
    stubs.assert_all_used()

    for code, status in (("ConflictException", 409), ("ServiceQuotaExceededException", 402)):
        stubber = stubs.stub("accessanalyzer", REGIONS[0], member_account)
        stubber.add_response("list_analyzers", {"analyzers": []}, {"type": "ACCOUNT"})
        stubber.add_client_error("create_analyzer", code, http_status_code=status)
        stubber.add_response("list_analyzers", {"analyzers": []}, {"type": "ACCOUNT"})
        with pytest.raises(PermanentError) as raised:
            hygiene.account_hygiene(context)
        assert raised.value.code == code


def test_a_public_access_block_removed_outside_bespoke_is_reported_then_restored(
    aws: EmulatedAws, stubs: Stubs, contacts: dict[str, Any], step_context: MakeContext, member_account: str
) -> None:
    context = step_context(
        "account_hygiene", regions=REGIONS, payer_settings=contacts, step_params={"access_analyzer": False}
    )
    hygiene.account_hygiene(context)
    aws.member_client("s3control", account_id=member_account).delete_public_access_block(AccountId=member_account)
    aws.member_client("ec2", account_id=member_account, region="us-west-2").disable_ebs_encryption_by_default()

    check = ReadBack(inputs=context.inputs, params={"access_analyzer": False}, expectations={})
    assert guardrail_readback.account_hygiene_problems(check) == [
        "S3 Block Public Access is off for the account.",
        "EBS encryption by default is off in us-west-2.",
    ]

    hygiene.account_hygiene(context)

    assert guardrail_readback.account_hygiene_problems(check) == []


@pytest.fixture
def security_admin(aws: EmulatedAws, contacts: dict[str, Any]) -> str:
    org = aws.client("organizations")
    status = org.create_account(Email="security@example.com", AccountName="security")["CreateAccountStatus"]
    admin = str(
        org.describe_create_account_status(CreateAccountRequestId=status["Id"])["CreateAccountStatus"]["AccountId"]
    )
    Payer.objects.filter(name="demo").update(security_admin_account_id=admin)
    return admin


def stub_membership(stubs: Stubs, *, admin: str, member: str) -> None:
    """What the emulator lacks of the invitation handshake, region by region."""
    for region in REGIONS:
        admin_gd = stubs.stub("guardduty", region, admin, ops={"get_members", "create_members", "invite_members"})
        admin_gd.add_response("get_members", {"Members": [], "UnprocessedAccounts": []})
        admin_gd.add_response("create_members", {"UnprocessedAccounts": []})
        admin_gd.add_response("invite_members", {"UnprocessedAccounts": []})
        member_gd = stubs.stub(
            "guardduty",
            region,
            member,
            ops={"get_administrator_account", "list_invitations", "accept_administrator_invitation"},
        )
        # An invitation sent earlier and not yet accepted.
        pending = {
            "AccountId": admin,
            "InvitationId": f"gd-{region}",
            "RelationshipStatus": "Invited",
            "InvitedAt": "-",
        }
        member_gd.add_response("get_administrator_account", {"Administrator": pending})
        member_gd.add_response(
            "list_invitations", {"Invitations": [{"AccountId": admin, "InvitationId": f"gd-{region}"}]}
        )
        member_gd.add_response(
            "accept_administrator_invitation",
            {},
            {"DetectorId": _ANY, "AdministratorId": admin, "InvitationId": f"gd-{region}"},
        )
        admin_hub = stubs.stub("securityhub", region, admin, ops={"invite_members"})
        admin_hub.add_response("invite_members", {"UnprocessedAccounts": []}, {"AccountIds": [member]})
        member_hub = stubs.stub(
            "securityhub", region, member, ops={"list_invitations", "accept_administrator_invitation"}
        )
        member_hub.add_response(
            "list_invitations", {"Invitations": [{"AccountId": admin, "InvitationId": f"sh-{region}"}]}
        )
        member_hub.add_response(
            "accept_administrator_invitation", {}, {"AdministratorId": admin, "InvitationId": f"sh-{region}"}
        )


class _Anything:
    def __eq__(self, other: object) -> bool:
        return True


_ANY = _Anything()


def test_guardduty_and_security_hub_are_on_in_every_built_region_under_the_delegated_admin(
    aws: EmulatedAws,
    stubs: Stubs,
    security_admin: str,
    contacts: dict[str, Any],
    step_context: MakeContext,
    member_account: str,
) -> None:
    stub_membership(stubs, admin=security_admin, member=member_account)
    settings = {**contacts, "security_admin_account_id": security_admin}
    context = step_context("security_services", regions=REGIONS, payer_settings=settings)

    outputs = security_services.security_services(context)

    assert outputs["administrator"] == security_admin
    assert outputs["security_hub_regions"] == REGIONS
    stubs.assert_all_used()
    for region in REGIONS:
        guardduty = aws.member_client("guardduty", account_id=member_account, region=region)
        [detector] = guardduty.list_detectors()["DetectorIds"]
        assert guardduty.get_detector(DetectorId=detector)["Status"] == "ENABLED"
        assert aws.member_client("securityhub", account_id=member_account, region=region).describe_hub()["HubArn"]
        hub_members = aws.member_client("securityhub", account_id=security_admin, region=region).get_members(
            AccountIds=[member_account]
        )["Members"]
        assert [member["AccountId"] for member in hub_members] == [member_account]
    assert (
        guardrail_readback.security_services_problems(ReadBack(inputs=context.inputs, params={}, expectations={})) == []
    )


def test_without_a_delegated_admin_each_account_runs_its_own(
    aws: EmulatedAws, stubs: Stubs, contacts: dict[str, Any], step_context: MakeContext, member_account: str
) -> None:
    context = step_context("security_services", regions=REGIONS, payer_settings=contacts)
    security_services.security_services(context)
    guardduty = aws.member_client("guardduty", account_id=member_account, region="us-west-2")
    [detector] = guardduty.list_detectors()["DetectorIds"]
    guardduty.update_detector(DetectorId=detector, Enable=False)
    check = ReadBack(inputs=context.inputs, params={}, expectations={})
    assert guardrail_readback.security_services_problems(check) == ["GuardDuty is not enabled in us-west-2."]

    outputs = security_services.security_services(context)

    assert outputs["administrator"] == ""
    assert outputs["guardduty_detectors"]["us-west-2"] == detector
    assert guardrail_readback.security_services_problems(check) == []


def test_a_detector_or_hub_made_since_the_look_up_is_taken(
    aws: EmulatedAws,
    stubs: Stubs,
    contacts: dict[str, Any],
    step_context: MakeContext,
    member_account: str,
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
) -> None:
    """A redelivered step finds GuardDuty and Security Hub turned on after it looked:
    GuardDuty's BadRequestException for a second detector takes the one there, and
    Security Hub's ResourceConflictException ("already subscribed") is success."""
    context = step_context("security_services", regions=REGIONS, payer_settings=contacts)
    first = security_services.security_services(context)
    real_detector_of = security_services.detector_of
    looks: dict[str, int] = {}

    def stale_first_look(client: Any) -> str | None:
        region = client.meta.region_name
        looks[region] = looks.get(region, 0) + 1
        return None if looks[region] == 1 else real_detector_of(client)

    monkeypatch.setattr(security_services, "detector_of", stale_first_look)
    monkeypatch.setattr(security_services, "hub_enabled", lambda client: False)
    settings.AWS_FAULTS = (
        "guardduty:CreateDetector:BadRequestException,securityhub:EnableSecurityHub:ResourceConflictException"
    )

    again = security_services.security_services(context)

    assert looks == dict.fromkeys(REGIONS, 2)
    assert again == first
    settings.AWS_FAULTS = ""
    for region in REGIONS:
        guardduty = aws.member_client("guardduty", account_id=member_account, region=region)
        assert guardduty.list_detectors()["DetectorIds"] == [first["guardduty_detectors"][region]]
    check = ReadBack(inputs=context.inputs, params={}, expectations={})
    monkeypatch.undo()
    assert guardrail_readback.security_services_problems(check) == []


def test_a_creation_refused_for_another_reason_still_fails_the_step(
    aws: EmulatedAws,
    stubs: Stubs,
    contacts: dict[str, Any],
    step_context: MakeContext,
    member_account: str,
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
) -> None:
    """No detector anywhere and GuardDuty refuses to create one: the refusal stands."""
    context = step_context("security_services", regions=REGIONS, payer_settings=contacts)
    settings.AWS_FAULTS = "guardduty:CreateDetector:BadRequestException"
    with pytest.raises(PermanentError) as raised:
        security_services.security_services(context)
    assert raised.value.code == "BadRequestException"

    settings.AWS_FAULTS = "securityhub:EnableSecurityHub:AccessDeniedException"
    with pytest.raises(PermanentError) as raised:
        security_services.security_services(context)
    assert raised.value.code == "AccessDeniedException"


def test_the_budget_alerts_requestor_and_technical_contact_at_80_and_100_percent(
    aws: EmulatedAws, step_context: MakeContext, member_account: str
) -> None:
    context = step_context("budget", environment="prd")

    outputs = budget_step.budget(context)

    requestor = context.inputs["requestor"]["email"].lower()
    technical = f"{context.inputs['technical_contact']['username']}@example.com"
    assert outputs == {
        "budget_name": "bespoke-monthly-cost",
        "monthly_limit_usd": 5000,
        "alerts_to": [requestor, technical],
    }
    budgets = aws.member_client("budgets", account_id=member_account)
    described = budgets.describe_budget(AccountId=member_account, BudgetName="bespoke-monthly-cost")["Budget"]
    assert (described["BudgetLimit"], described["TimeUnit"]) == ({"Amount": "5000", "Unit": "USD"}, "MONTHLY")
    notifications = budgets.describe_notifications_for_budget(
        AccountId=member_account, BudgetName="bespoke-monthly-cost"
    )
    assert sorted(item["Threshold"] for item in notifications["Notifications"]) == [80, 100]
    assert guardrail_readback.budget_problems(ReadBack(inputs=context.inputs, params={}, expectations={})) == []

    assert budget_step.budget(context) == outputs  # a second run finds it in place


def test_a_budget_or_alert_made_since_the_look_up_is_taken(
    aws: EmulatedAws,
    step_context: MakeContext,
    member_account: str,
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
) -> None:
    """A second delivery that looked before the first made the budget gets
    DuplicateRecordException from CreateBudget and converges the budget there; an alert
    AWS says exists already is as good; any other refusal fails the step."""
    context = step_context("budget", environment="prd")
    outputs = budget_step.budget(context)
    real_described = budget_step.described_budget
    looks: list[str] = []

    def stale_first(client: Any, *, account_id: str, name: str) -> dict[str, Any] | None:
        looks.append(name)
        return None if len(looks) == 1 else real_described(client, account_id=account_id, name=name)

    monkeypatch.setattr(budget_step, "described_budget", stale_first)
    assert budget_step.budget(context) == outputs
    assert len(looks) == 2
    monkeypatch.undo()

    budgets = aws.member_client("budgets", account_id=member_account)
    budgets.delete_notification(
        AccountId=member_account, BudgetName="bespoke-monthly-cost", Notification=budget_step.notification(80)
    )
    settings.AWS_FAULTS = "budgets:CreateNotification:DuplicateRecordException"
    assert budget_step.budget(context) == outputs
    settings.AWS_FAULTS = "budgets:CreateNotification:InvalidParameterException"
    with pytest.raises(PermanentError) as raised:
        budget_step.budget(context)
    assert raised.value.code == "InvalidParameterException"
    settings.AWS_FAULTS = ""
    budget_step.budget(context)
    assert guardrail_readback.budget_problems(ReadBack(inputs=context.inputs, params={}, expectations={})) == []


def test_a_request_s_own_budget_wins_over_the_environment_s(
    aws: EmulatedAws, step_context: MakeContext, member_account: str
) -> None:
    assert (
        budget_step.budget(step_context("budget", environment="dev", monthly_budget_usd=750))["monthly_limit_usd"]
        == 750
    )


def test_a_deleted_budget_is_reported_then_restored(
    aws: EmulatedAws, step_context: MakeContext, member_account: str
) -> None:
    context = step_context("budget")
    budget_step.budget(context)
    aws.member_client("budgets", account_id=member_account).delete_budget(
        AccountId=member_account, BudgetName="bespoke-monthly-cost"
    )
    check = ReadBack(inputs=context.inputs, params={}, expectations={})
    assert guardrail_readback.budget_problems(check) == ["The account has no budget bespoke-monthly-cost."]

    budget_step.budget(context)

    assert guardrail_readback.budget_problems(check) == []

"""The ``security_services`` step: GuardDuty and Security Hub in every built region, the
account a member of the payer's delegated administrator (``security_admin_account_id``):
invited by the administrator, the invitation accepted by the account."""

from collections.abc import Mapping
from typing import Any

from apps.baseline.steps import aws
from apps.baseline.steps.guardrail_params import SECURITY_SERVICES_DEFAULT_PARAMS
from apps.cloud import api as cloud
from apps.kernel.errors import PermanentError, RetryableError
from apps.kernel.steps import StepContext

# What Security Hub answers for an account where it is not enabled.
HUB_NOT_ENABLED = frozenset({"InvalidAccessException", "ResourceNotFoundException"})


def security_services(context: StepContext) -> dict[str, Any]:
    """Enable GuardDuty and Security Hub in every region the run builds in and, when the
    payer has a delegated administrator, make the account its member there.

    Idempotent: a detector is created only where the account has none (one that is off
    is switched on), Security Hub is enabled only where ``DescribeHub`` says it is not;
    the administrator adds and invites the account only when it is not already a
    member, and the account accepts only when it has no administrator yet.
    """
    params = context.params(SECURITY_SERVICES_DEFAULT_PARAMS)
    inputs = context.inputs
    account_id = str(context.require("account_id"))
    admin_id = str(context.require("payer_settings").get("security_admin_account_id") or "")
    member = cloud.member_session_of(inputs)
    admin = None
    if admin_id and admin_id != account_id:
        admin = cloud.member_session_of({**inputs, "account_id": admin_id})
    email = str(inputs.get("account_email") or "")
    outputs: dict[str, Any] = {"administrator": admin_id if admin else ""}
    for region in aws.built_regions(inputs):
        if params["guardduty"]:
            guardduty = aws.client("guardduty", session=member, region=region)
            detector = ensure_detector(guardduty)
            if admin is not None:
                admin_guardduty = aws.client("guardduty", session=admin, region=region)
                _guardduty_membership(
                    admin_guardduty, guardduty, detector=detector, account_id=account_id, admin_id=admin_id, email=email
                )
            outputs.setdefault("guardduty_detectors", {})[region] = detector
        if params["security_hub"]:
            hub = aws.client("securityhub", session=member, region=region)
            _ensure_hub(hub)
            if admin is not None:
                admin_hub = aws.client("securityhub", session=admin, region=region)
                _hub_membership(admin_hub, hub, account_id=account_id, admin_id=admin_id, email=email)
            outputs.setdefault("security_hub_regions", []).append(region)
    return outputs


def detector_of(client: Any) -> str | None:
    with cloud.aws_errors("ListDetectors"):
        ids = client.list_detectors()["DetectorIds"]
    return str(ids[0]) if ids else None


def ensure_detector(client: Any) -> str:
    """The account's detector in the client's region, created if it has none and switched
    on if it is off. GuardDuty allows one detector per account and region and refuses a
    second (BadRequestException): one created since the look-up (by an earlier delivery,
    or another vend of the payer for the administrator's) is taken."""
    detector = detector_of(client)
    if detector is None:
        try:
            with cloud.aws_errors("CreateDetector"):
                return str(
                    client.create_detector(Enable=True, FindingPublishingFrequency="FIFTEEN_MINUTES")["DetectorId"]
                )
        except PermanentError as error:
            detector = detector_of(client)
            if error.code != "BadRequestException" or detector is None:
                raise
    with cloud.aws_errors("GetDetector"):
        status = client.get_detector(DetectorId=detector)["Status"]
    if status != "ENABLED":
        with cloud.aws_errors("UpdateDetector"):
            client.update_detector(DetectorId=detector, Enable=True)
    return detector


def _guardduty_membership(
    admin: Any, member: Any, *, detector: str, account_id: str, admin_id: str, email: str
) -> None:
    with cloud.aws_errors("GetAdministratorAccount"):
        current = member.get_administrator_account(DetectorId=detector).get("Administrator") or {}
    if current.get("AccountId") == admin_id and current.get("RelationshipStatus") == "Enabled":
        return
    admin_detector = ensure_detector(admin)
    with cloud.aws_errors("GetMembers"):
        members = admin.get_members(DetectorId=admin_detector, AccountIds=[account_id])["Members"]
    if not members:
        with cloud.aws_errors("CreateMembers"):
            admin.create_members(DetectorId=admin_detector, AccountDetails=[{"AccountId": account_id, "Email": email}])
    if not members or members[0].get("RelationshipStatus") not in ("Invited", "Enabled"):
        with cloud.aws_errors("InviteMembers"):
            admin.invite_members(DetectorId=admin_detector, AccountIds=[account_id], DisableEmailNotification=True)
    invitation = _invitation_from(member, admin_id)
    with cloud.aws_errors("AcceptAdministratorInvitation"):
        member.accept_administrator_invitation(DetectorId=detector, AdministratorId=admin_id, InvitationId=invitation)


def hub_enabled(client: Any) -> bool:
    try:
        with cloud.aws_errors("DescribeHub"):
            client.describe_hub()
    except PermanentError as error:
        if error.code in HUB_NOT_ENABLED:
            return False
        raise
    return True


def _ensure_hub(client: Any) -> None:
    """Security Hub on; "already subscribed" (ResourceConflictException: it was enabled
    since ``DescribeHub`` was asked) is done."""
    if not hub_enabled(client):
        try:
            with cloud.aws_errors("EnableSecurityHub"):
                client.enable_security_hub(EnableDefaultStandards=True)
        except PermanentError as error:
            if error.code != "ResourceConflictException":
                raise


def _hub_membership(admin: Any, member: Any, *, account_id: str, admin_id: str, email: str) -> None:
    with cloud.aws_errors("GetAdministratorAccount"):
        current = member.get_administrator_account().get("Administrator") or {}
    if current.get("AccountId") == admin_id and current.get("MemberStatus") in ("Enabled", "ENABLED", "Associated"):
        return
    with cloud.aws_errors("GetMembers"):
        members = admin.get_members(AccountIds=[account_id])["Members"]
    if not members:
        with cloud.aws_errors("CreateMembers"):
            admin.create_members(AccountDetails=[{"AccountId": account_id, "Email": email}])
    with cloud.aws_errors("InviteMembers"):
        admin.invite_members(AccountIds=[account_id])
    invitation = _invitation_from(member, admin_id)
    with cloud.aws_errors("AcceptAdministratorInvitation"):
        member.accept_administrator_invitation(AdministratorId=admin_id, InvitationId=invitation)


def _invitation_from(member: Any, admin_id: str) -> str:
    """The id of the administrator's invitation to the account (it may take a moment to
    arrive: retried until it does)."""
    with cloud.aws_errors("ListInvitations"):
        invitations: list[Mapping[str, Any]] = member.list_invitations()["Invitations"]
    for invitation in invitations:
        if invitation.get("AccountId") == admin_id:
            return str(invitation["InvitationId"])
    raise RetryableError(f"No invitation from administrator {admin_id} yet.", code="invitation_pending")

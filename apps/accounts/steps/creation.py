"""The steps every vend starts with: ``create_account`` asks Organizations for the member
account, within the organization's quotas; ``wait_account`` waits until it exists, moves
it to the payer's OU and checks that its role can be assumed."""

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from apps.accounts import quotas
from apps.accounts.models import ManagedAccount
from apps.accounts.services import account_release_slot, account_restart_creation, account_start, account_update
from apps.accounts.steps import aws
from apps.cloud import api as cloud
from apps.kernel import clock
from apps.kernel.contracts import PlanFacts
from apps.kernel.errors import PermanentError, StillInProgress
from apps.kernel.steps import StepContext
from apps.kernel.steptools import REQUEST_TAG, aws_tags, invalid_params, merged_params

# How long ``wait_account`` waits for Organizations, and how often it asks. A blueprint may
# change both (``{"name": "wait_account", "params": {...}}``).
WAIT_ACCOUNT_DEFAULT_PARAMS: dict[str, Any] = {
    "deadline_minutes": 30,
    "poll_seconds": 10,
}


def check_wait_account_params(step: str, given: Mapping[str, Any] | None) -> None:
    params = merged_params(step, given, WAIT_ACCOUNT_DEFAULT_PARAMS)
    for key, (low, high) in {"deadline_minutes": (1, 24 * 60), "poll_seconds": (1, 900)}.items():
        value = params[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            raise invalid_params(step, f"{key} must be a number from {low} to {high}, not {value!r}.")


class AccountEmailTaken(PermanentError):
    """The Organization already holds an account with the email Bespoke would create, and
    Bespoke did not create it for this request. It is never taken over (re-baselined for
    someone else); an operator can adopt it."""

    def __init__(self, *, email: str, aws_account_id: str) -> None:
        super().__init__(
            f"The Organization already has account {aws_account_id} with the email {email}, not created for "
            "this request; Bespoke will not take it over (an operator can adopt it).",
            code="account_email_taken",
        )


def _created_for(org: Any, *, aws_account_id: str, request_id: str) -> bool:
    """Whether Bespoke created ``aws_account_id`` for ``request_id`` (CreateAccount tags
    every account with its request id)."""
    with cloud.aws_errors("ListTagsForResource"):
        tags = {
            tag["Key"]: tag["Value"]
            for page in org.get_paginator("list_tags_for_resource").paginate(ResourceId=aws_account_id)
            for tag in page["Tags"]
        }
    return tags.get(REQUEST_TAG) == request_id


def _find_existing(org: Any, *, email: str, name: str, request_id: str) -> tuple[str | None, str | None]:
    """(account id, in-progress create request id) of this request's earlier attempt whose
    answer was lost. An account with the email that another request (or someone outside
    Bespoke) created raises ``AccountEmailTaken``; an in-progress creation with the name is
    followed, and ``wait_account`` checks whose it was once it has an id."""
    with cloud.aws_errors("ListAccounts"):
        for page in org.get_paginator("list_accounts").paginate():
            for account in page["Accounts"]:
                if account["Email"].lower() == email.lower() and account["Status"] != "SUSPENDED":
                    if not _created_for(org, aws_account_id=account["Id"], request_id=request_id):
                        raise AccountEmailTaken(email=email, aws_account_id=account["Id"])
                    return account["Id"], None
    with cloud.aws_errors("ListCreateAccountStatus"):
        for page in org.get_paginator("list_create_account_status").paginate(States=["IN_PROGRESS"]):
            for status in page["CreateAccountStatuses"]:
                if status.get("AccountName") == name:
                    return None, status["Id"]
    return None, None


def describe_create_account(given: Mapping[str, Any], facts: PlanFacts) -> list[str]:
    return [f"AWS account {facts.account_name} <{facts.account_email}> in payer {facts.payer}'s Organization"]


def describe_wait_account(given: Mapping[str, Any], facts: PlanFacts) -> list[str]:
    deadline = merged_params("wait_account", given, WAIT_ACCOUNT_DEFAULT_PARAMS)["deadline_minutes"]
    return [f"(waits for Organizations, up to {deadline:g} minutes, then assumes the account's role)"]


def create_account(context: StepContext) -> dict[str, Any]:
    """Ask Organizations for the member account, within the organization's quotas.

    Quotas (apps/accounts/quotas.py): before CreateAccount the account takes one of its
    organization's in-flight creation slots (at most ORGANIZATIONS_MAX_CREATIONS_IN_FLIGHT)
    and then a CreateAccount token; either can make the step wait its turn
    (``WaitForQuota``, which uses up no attempt). The slot is given back when the account
    leaves ``creating``: active (wait_account), failed (Organizations refused it, here or
    in wait_account) or found already created.

    Idempotent: the step runner's lease lets one delivery at a time run it, and the lease
    is checked again right before CreateAccount; the CreateAccount request id is stored on
    the account record before this returns, and a re-run that has it takes no slot or token and calls nothing; before
    creating, an account with the same email that an earlier attempt of this request
    created (tagged with its request id), or an in-progress creation with the same name,
    is followed instead. An account with the email that this request did not create
    fails the step (``account_email_taken``): it is never taken over. A re-run after
    Organizations refused the creation (an operator's retry) starts the creation over.
    """
    inputs = context.inputs
    account = account_start(
        request_id=context.require("request_id"),
        payer_name=context.require("payer"),
        email=context.require("account_email"),
        name=context.require("account_name"),
        environment=str(inputs.get("environment", "")),
        tags=dict(inputs.get("tags") or {}),
    )
    if account.status == ManagedAccount.Status.FAILED and not account.aws_account_id:
        account_restart_creation(account)
    if account.aws_account_id or account.create_request_id:
        return {"create_account_request_id": account.create_request_id, "account_email": account.email}
    quotas.creation_slot_or_wait(account)
    quotas.take_or_wait(organization_id=account.payer.management_account_id, quota=quotas.create_account_quota())
    try:
        org = aws.organizations(account.payer)
        existing_id, in_progress_id = _find_existing(
            org, email=account.email, name=account.name, request_id=context.require("request_id")
        )
        if existing_id or in_progress_id:
            account_update(account, aws_account_id=existing_id or "", create_request_id=in_progress_id or "")
            if existing_id:  # already created: nothing of this organization's is in flight for it
                account_release_slot(account)
            return {"create_account_request_id": account.create_request_id, "account_email": account.email}
        context.ensure_lease()  # still this delivery's step: nobody else may be creating it now
        with cloud.aws_errors("CreateAccount"):
            status = org.create_account(
                Email=account.email,
                AccountName=account.name,
                RoleName=account.payer.member_role_name,
                IamUserAccessToBilling="ALLOW",
                Tags=aws_tags(inputs),
            )["CreateAccountStatus"]
    except PermanentError as error:
        # Refused for good (access denied, a limit): nothing is in flight; free the slot.
        account_update(account, status=ManagedAccount.Status.FAILED, failure_reason=error.message)
        raise
    account_update(account, create_request_id=status["Id"])
    if status["State"] == "FAILED":
        return _creation_failed(account, status.get("FailureReason", "UNKNOWN"))
    return {"create_account_request_id": status["Id"], "account_email": account.email}


def wait_account(context: StepContext) -> dict[str, Any]:
    """Wait until Organizations reports the account created, move it to the payer's OU and
    check that its role can be assumed.

    The wait is bounded by a deadline, not by the step's attempts: while Organizations says
    IN_PROGRESS the step asks again every ``poll_seconds`` (``StillInProgress``, which uses
    up no attempt), until ``deadline_minutes`` after the creation took its slot (just
    before CreateAccount); IN_PROGRESS after that fails the step
    (``create_account_deadline_passed``) — a retry finds the account if Organizations has
    finished by then. Each status poll first takes a token of the organization's
    status-poll quota (it waits its turn otherwise). The account leaving ``creating``
    (active, or failed when Organizations reports FAILED) gives back its in-flight
    creation slot.

    Idempotent: it only reads the creation status; the move happens only when the account
    is not already in the target OU; the account id is stored once known.
    """
    account = ManagedAccount.objects.select_related("payer").get(request_id=context.require("request_id"))
    payer = account.payer
    if not account.aws_account_id:
        quotas.take_or_wait(organization_id=payer.management_account_id, quota=quotas.status_poll_quota())
    org = aws.organizations(payer)
    if not account.aws_account_id:
        with cloud.aws_errors("DescribeCreateAccountStatus"):
            status = org.describe_create_account_status(CreateAccountRequestId=account.create_request_id)[
                "CreateAccountStatus"
            ]
        state = status["State"]
        if state == "IN_PROGRESS":
            _still_creating(account, context.params(WAIT_ACCOUNT_DEFAULT_PARAMS))
        if state == "FAILED":
            _creation_failed(account, status.get("FailureReason", "UNKNOWN"))
        # A creation found in progress (an earlier attempt's, by name) may be someone else's.
        if not _created_for(org, aws_account_id=status["AccountId"], request_id=str(context.require("request_id"))):
            error = AccountEmailTaken(email=account.email, aws_account_id=status["AccountId"])
            account_update(account, status=ManagedAccount.Status.FAILED, failure_reason=error.message)
            raise error
        account_update(account, aws_account_id=status["AccountId"])
    if payer.parent_ou_id:
        aws.move_to_ou(org, account_id=account.aws_account_id, ou_id=payer.parent_ou_id)
    aws.check_role(payer, account.aws_account_id)
    account_update(account, status=ManagedAccount.Status.ACTIVE)
    return {"account_id": account.aws_account_id, "account_email": account.email}


def _still_creating(account: ManagedAccount, params: Mapping[str, Any]) -> None:
    """Wait for Organizations again, unless the deadline has passed (then fail)."""
    started = account.slot_taken_at or account.created_at
    deadline = started + timedelta(minutes=params["deadline_minutes"])
    if clock.now() >= deadline:
        raise PermanentError(
            f"Organizations was still creating the account {params['deadline_minutes']:g} minutes after it was "
            f"asked to (since {started.isoformat()}); retry the request once it has finished.",
            code="create_account_deadline_passed",
        )
    raise StillInProgress(
        f"Organizations is still creating the account (waiting until {deadline.isoformat()}).",
        delay=float(params["poll_seconds"]),
        code="create_account_in_progress",
    )


def _creation_failed(account: ManagedAccount, reason: str) -> dict[str, Any]:
    account_update(account, status=ManagedAccount.Status.FAILED, failure_reason=reason)
    raise PermanentError(f"Organizations could not create the account: {reason}", code=reason)

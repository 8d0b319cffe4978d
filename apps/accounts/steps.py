"""The accounts context's workflow steps: create the member account and wait for it."""

import re
from collections.abc import Mapping
from typing import Any

from apps.accounts import quotas
from apps.accounts.models import ManagedAccount, Payer
from apps.accounts.services import account_release_slot, account_restart_creation, account_start, account_update
from apps.cloud import api as cloud
from apps.kernel import clock
from apps.kernel.contracts import PlanFacts
from apps.kernel.errors import PermanentError, RetryableError
from apps.kernel.steps import StepContext

REQUEST_TAG = "bespoke:request-id"
# Characters AWS accepts in tag values; anything else (quotes, say) becomes a space.
_TAG_UNSAFE = re.compile(r"[^\w .:/=+\-@]", re.UNICODE)


def _tags(inputs: dict[str, Any] | Any) -> list[dict[str, str]]:
    tags = {REQUEST_TAG: inputs["request_id"], **{k: str(v) for k, v in inputs.get("tags", {}).items()}}
    return [{"Key": key[:128], "Value": _TAG_UNSAFE.sub(" ", value)[:256]} for key, value in sorted(tags.items())]


def _organizations(payer: Payer) -> Any:
    return cloud.client("organizations", session=cloud.management_session(role_arn=payer.management_role_arn or None))


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
    return ["(waits for Organizations, then assumes the account's role)"]


def create_account(context: StepContext) -> dict[str, Any]:
    """Ask Organizations for the member account, within the organization's quotas.

    Quotas (apps/accounts/quotas.py): before CreateAccount the account takes one of its
    organization's in-flight creation slots (at most ORGANIZATIONS_MAX_CREATIONS_IN_FLIGHT)
    and then a CreateAccount token; either can make the step wait its turn
    (``WaitForQuota``, which uses up no attempt). The slot is given back when the account
    leaves ``creating``: active (wait_account), failed (Organizations refused it, here or
    in wait_account) or found already created.

    Idempotent: the CreateAccount request id is stored on the account record before this
    returns, and a re-run that has it takes no slot or token and calls nothing; before
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
        org = _organizations(account.payer)
        existing_id, in_progress_id = _find_existing(
            org, email=account.email, name=account.name, request_id=context.require("request_id")
        )
        if existing_id or in_progress_id:
            account_update(account, aws_account_id=existing_id or "", create_request_id=in_progress_id or "")
            if existing_id:  # already created: nothing of this organization's is in flight for it
                account_release_slot(account)
            return {"create_account_request_id": account.create_request_id, "account_email": account.email}
        with cloud.aws_errors("CreateAccount"):
            status = org.create_account(
                Email=account.email,
                AccountName=account.name,
                RoleName=account.payer.member_role_name,
                IamUserAccessToBilling="ALLOW",
                Tags=_tags(inputs),
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

    Each status poll first takes a token of the organization's status-poll quota (it
    waits its turn otherwise). The account leaving ``creating`` (active, or failed when
    Organizations reports FAILED) gives back its in-flight creation slot.

    Idempotent: it only reads the creation status; the move happens only when the account
    is not already in the target OU; the account id is stored once known.
    """
    account = ManagedAccount.objects.select_related("payer").get(request_id=context.require("request_id"))
    payer = account.payer
    if not account.aws_account_id:
        quotas.take_or_wait(organization_id=payer.management_account_id, quota=quotas.status_poll_quota())
    org = _organizations(payer)
    if not account.aws_account_id:
        with cloud.aws_errors("DescribeCreateAccountStatus"):
            status = org.describe_create_account_status(CreateAccountRequestId=account.create_request_id)[
                "CreateAccountStatus"
            ]
        state = status["State"]
        if state == "IN_PROGRESS":
            raise RetryableError("Organizations is still creating the account.", code="create_account_in_progress")
        if state == "FAILED":
            _creation_failed(account, status.get("FailureReason", "UNKNOWN"))
        # A creation found in progress (an earlier attempt's, by name) may be someone else's.
        if not _created_for(org, aws_account_id=status["AccountId"], request_id=str(context.require("request_id"))):
            error = AccountEmailTaken(email=account.email, aws_account_id=status["AccountId"])
            account_update(account, status=ManagedAccount.Status.FAILED, failure_reason=error.message)
            raise error
        account_update(account, aws_account_id=status["AccountId"])
    if payer.parent_ou_id:
        _move_to_ou(org, account_id=account.aws_account_id, ou_id=payer.parent_ou_id)
    _check_role(payer, account.aws_account_id)
    account_update(account, status=ManagedAccount.Status.ACTIVE)
    return {"account_id": account.aws_account_id, "account_email": account.email}


def _creation_failed(account: ManagedAccount, reason: str) -> dict[str, Any]:
    account_update(account, status=ManagedAccount.Status.FAILED, failure_reason=reason)
    raise PermanentError(f"Organizations could not create the account: {reason}", code=reason)


def _move_to_ou(org: Any, *, account_id: str, ou_id: str) -> None:
    with cloud.aws_errors("ListParents"):
        parent = org.list_parents(ChildId=account_id)["Parents"][0]["Id"]
    if parent != ou_id:
        with cloud.aws_errors("MoveAccount"):
            org.move_account(AccountId=account_id, SourceParentId=parent, DestinationParentId=ou_id)


def _check_role(payer: Payer, account_id: str) -> None:
    # A brand-new account's role can take a while to become assumable: AccessDenied
    # here means "not yet", not "never".
    with cloud.aws_errors("AssumeRole", retryable_codes=frozenset({"AccessDenied"})):
        management = cloud.management_session(role_arn=payer.management_role_arn or None)
        member = cloud.member_session(management=management, account_id=account_id, role_name=payer.member_role_name)
        identity = cloud.client("sts", session=member).get_caller_identity()
    if identity["Account"] != account_id:
        raise PermanentError(
            f"Assumed {payer.member_role_name} but landed in {identity['Account']}, not {account_id}.",
            code="wrong_account",
        )


# --- Steps of commands on existing accounts -----------------------------------------------


def _commanded_account(context: StepContext) -> ManagedAccount:
    return ManagedAccount.objects.select_related("payer").get(id=context.require("managed_account_id"))


def _describe(org: Any, account_id: str) -> dict[str, Any]:
    with cloud.aws_errors("DescribeAccount"):
        described: dict[str, Any] = org.describe_account(AccountId=account_id)["Account"]
    return described


def _parent(org: Any, account_id: str) -> str:
    with cloud.aws_errors("ListParents"):
        return str(org.list_parents(ChildId=account_id)["Parents"][0]["Id"])


def adopt_account(context: StepContext) -> dict[str, Any]:
    """Take an account Bespoke did not vend under management: it must be ACTIVE in the
    payer's Organization and its member role assumable; it then becomes ``active`` with
    source ``adopted``, in the environment the command named, with the OU it is in.

    Idempotent: it reads Organizations and STS and only then writes the same values to
    the account row; a second run (the account already adopted) writes them again.
    """
    account = _commanded_account(context)
    org = _organizations(account.payer)
    described = _describe(org, account.aws_account_id)
    if described["Status"] != "ACTIVE":
        raise PermanentError(
            f"Account {account.aws_account_id} is {described['Status']} in the Organization, not ACTIVE.",
            code="account_not_active",
        )
    _check_role(account.payer, account.aws_account_id)
    account_update(
        account,
        status=ManagedAccount.Status.ACTIVE,
        source=ManagedAccount.Source.ADOPTED,
        environment=str(context.inputs.get("step_params", {}).get("environment") or account.environment),
        email=described["Email"],
        ou_id=_parent(org, account.aws_account_id),
        failure_reason="",
    )
    return {"account_id": account.aws_account_id, "account_email": account.email}


def move_account(context: StepContext) -> dict[str, Any]:
    """Move the account into the OU ``step_params.ou_id`` and record it on the account.

    Idempotent: the account's parent is read first (ListParents) and MoveAccount is
    called only when it is elsewhere.
    """
    account = _commanded_account(context)
    ou_id = str(context.require("step_params")["ou_id"])
    org = _organizations(account.payer)
    _move_to_ou(org, account_id=account.aws_account_id, ou_id=ou_id)
    account_update(account, ou_id=ou_id)
    return {"ou_id": ou_id}


def close_account(context: StepContext) -> dict[str, Any]:
    """Close the account in Organizations (CloseAccount) and record it ``closed``.

    Idempotent: an account Organizations already reports SUSPENDED or PENDING_CLOSURE is
    not closed again; the row's ``closed_at`` keeps the first closure's time.
    """
    account = _commanded_account(context)
    org = _organizations(account.payer)
    state = _describe(org, account.aws_account_id)["Status"]
    if state not in ("SUSPENDED", "PENDING_CLOSURE"):
        with cloud.aws_errors("CloseAccount"):
            org.close_account(AccountId=account.aws_account_id)
        state = _describe(org, account.aws_account_id)["Status"]
    account_update(account, status=ManagedAccount.Status.CLOSED, closed_at=account.closed_at or clock.now())
    return {"organizations_status": state}

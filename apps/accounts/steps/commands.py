"""The steps of commands on existing accounts: ``adopt_account``, ``move_account`` and
``close_account`` (the commands themselves: ``apps/accounts/commands/``)."""

from typing import Any

from apps.accounts.models import ManagedAccount
from apps.accounts.services import account_update
from apps.accounts.steps import aws
from apps.cloud import api as cloud
from apps.kernel import clock
from apps.kernel.errors import PermanentError
from apps.kernel.steps import StepContext


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
    org = aws.organizations(account.payer)
    described = _describe(org, account.aws_account_id)
    if described["Status"] != "ACTIVE":
        raise PermanentError(
            f"Account {account.aws_account_id} is {described['Status']} in the Organization, not ACTIVE.",
            code="account_not_active",
        )
    aws.check_role(account.payer, account.aws_account_id)
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
    org = aws.organizations(account.payer)
    aws.move_to_ou(org, account_id=account.aws_account_id, ou_id=ou_id)
    account_update(account, ou_id=ou_id)
    return {"ou_id": ou_id}


def close_account(context: StepContext) -> dict[str, Any]:
    """Close the account in Organizations (CloseAccount) and record it ``closed``.

    Idempotent: an account Organizations already reports SUSPENDED or PENDING_CLOSURE is
    not closed again; the row's ``closed_at`` keeps the first closure's time.
    """
    account = _commanded_account(context)
    org = aws.organizations(account.payer)
    state = _describe(org, account.aws_account_id)["Status"]
    if state not in ("SUSPENDED", "PENDING_CLOSURE"):
        with cloud.aws_errors("CloseAccount"):
            org.close_account(AccountId=account.aws_account_id)
        state = _describe(org, account.aws_account_id)["Status"]
    account_update(account, status=ManagedAccount.Status.CLOSED, closed_at=account.closed_at or clock.now())
    return {"organizations_status": state}

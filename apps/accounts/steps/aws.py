"""What the accounts steps share of AWS: the payer's Organizations client (tests replace
``organizations`` to watch or stub it), moving an account between OUs, and checking that
the member role can be assumed."""

from typing import Any

from apps.accounts.models import Payer
from apps.cloud import api as cloud
from apps.kernel.errors import PermanentError


def organizations(payer: Payer) -> Any:
    """Organizations in the payer's management account."""
    return cloud.client("organizations", session=cloud.management_session(role_arn=payer.management_role_arn or None))


def move_to_ou(org: Any, *, account_id: str, ou_id: str) -> None:
    with cloud.aws_errors("ListParents"):
        parent = org.list_parents(ChildId=account_id)["Parents"][0]["Id"]
    if parent != ou_id:
        with cloud.aws_errors("MoveAccount"):
            org.move_account(AccountId=account_id, SourceParentId=parent, DestinationParentId=ou_id)


def check_role(payer: Payer, account_id: str) -> None:
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

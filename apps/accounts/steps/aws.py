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


# What MoveAccount answers when the account was moved since its parent was read: it is
# in the destination already, or no longer in the source.
MOVED_SINCE = frozenset({"DuplicateAccountException", "SourceParentNotFoundException"})


def _parent_of(org: Any, account_id: str) -> str:
    with cloud.aws_errors("ListParents"):
        return str(org.list_parents(ChildId=account_id)["Parents"][0]["Id"])


def move_to_ou(org: Any, *, account_id: str, ou_id: str) -> None:
    """Move the account into ``ou_id`` unless it is there; a move refused because an
    earlier delivery (or anyone) moved it there since its parent was read is done."""
    parent = _parent_of(org, account_id)
    if parent == ou_id:
        return
    try:
        with cloud.aws_errors("MoveAccount"):
            org.move_account(AccountId=account_id, SourceParentId=parent, DestinationParentId=ou_id)
    except PermanentError as error:
        if error.code not in MOVED_SINCE or _parent_of(org, account_id) != ou_id:
            raise


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

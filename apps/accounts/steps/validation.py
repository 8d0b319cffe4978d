"""The ``account_validation`` step (the original's ``CLA_VALIDATION``): the member account
is reachable through its role and carries the alias it should."""

from collections.abc import Mapping
from typing import Any

from apps.cloud import api as cloud
from apps.kernel.contracts import PlanFacts
from apps.kernel.errors import PermanentError
from apps.kernel.steps import StepContext
from apps.kernel.steptools import invalid_params, merged_params

ACCOUNT_VALIDATION_DEFAULT_PARAMS: dict[str, Any] = {
    # True: the alias the iam step reported setting (its ``account_alias`` output), if it
    # set one; a string: that alias; false: the alias is not checked.
    "alias": True,
}


def check_account_validation_params(step: str, given: Mapping[str, Any] | None) -> None:
    alias = merged_params(step, given, ACCOUNT_VALIDATION_DEFAULT_PARAMS)["alias"]
    if not isinstance(alias, bool | str) or alias == "":
        raise invalid_params(step, f"alias must be true, false or an alias, not {alias!r}.")


def describe_account_validation(given: Mapping[str, Any], facts: PlanFacts) -> list[str]:
    alias = merged_params("account_validation", given, ACCOUNT_VALIDATION_DEFAULT_PARAMS)["alias"]
    checked = "" if alias is False else ", and that it has its alias"
    return [f"(checks that the account's role can be assumed{checked})"]


def account_validation(context: StepContext) -> dict[str, Any]:
    """Assume the member account's role, check that it lands in the account, and check the
    account's alias: the one the blueprint names, or the one the ``iam`` step reported
    (``alias`` parameter).

    Changes nothing, so it is idempotent by construction. A role that cannot be assumed
    yet (AccessDenied: a new account's role takes a moment) is retryable; landing in
    another account (``wrong_account``) or a missing alias (``account_alias_missing``)
    is permanent.
    """
    account_id = str(context.require("account_id"))
    wanted = context.params(ACCOUNT_VALIDATION_DEFAULT_PARAMS)["alias"]
    expected = context.inputs.get("account_alias") if wanted is True else (wanted or None)
    with cloud.aws_errors("AssumeRole", retryable_codes=frozenset({"AccessDenied"})):
        session = cloud.member_session_of(context.inputs)
        identity = cloud.client("sts", session=session).get_caller_identity()
    if identity["Account"] != account_id:
        raise PermanentError(
            f"The member role landed in {identity['Account']}, not {account_id}.", code="wrong_account"
        )
    with cloud.aws_errors("ListAccountAliases"):
        aliases = list(cloud.client("iam", session=session).list_account_aliases()["AccountAliases"])
    if expected and expected not in aliases:
        found = ", ".join(aliases) or "none"
        raise PermanentError(
            f"Account {account_id} should have the alias {expected!r}; it has {found}.", code="account_alias_missing"
        )
    return {"validated_role_arn": str(identity["Arn"]), "validated_alias": aliases[0] if aliases else None}

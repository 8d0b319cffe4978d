"""The ``account_validation`` step (the original's ``CLA_VALIDATION``) against emulated AWS:
the member role is assumed and lands in the account, and the account has its alias."""

from collections.abc import Callable
from typing import Any

import pytest

from apps.accounts.steps import validation
from apps.kernel.errors import PermanentError
from apps.kernel.steps import StepContext
from apps.workflow.plans import InvalidPlan, plan_from_blueprint
from tests.conftest import EmulatedAws

pytestmark = pytest.mark.django_db

MakeContext = Callable[..., StepContext]
ALIAS = "demo-msfp-dev"


def set_alias(aws: EmulatedAws, account_id: str, alias: str) -> None:
    aws.member_client("iam", account_id=account_id).create_account_alias(AccountAlias=alias)


def test_the_role_is_assumed_and_the_alias_the_iam_step_set_is_there(
    aws: EmulatedAws, step_context: MakeContext, member_account: str
) -> None:
    set_alias(aws, member_account, ALIAS)

    outputs = validation.account_validation(step_context("account_validation", account_alias=ALIAS))

    assert outputs["validated_alias"] == ALIAS
    assert f":{member_account}:" in outputs["validated_role_arn"]
    assert validation.account_validation(step_context("account_validation", account_alias=ALIAS)) == outputs


def test_a_missing_alias_fails_the_step_for_good(
    aws: EmulatedAws, step_context: MakeContext, member_account: str
) -> None:
    with pytest.raises(PermanentError) as failed:
        validation.account_validation(step_context("account_validation", account_alias=ALIAS))

    assert failed.value.code == "account_alias_missing"
    assert ALIAS in failed.value.message


def test_the_blueprint_may_name_the_alias_or_not_check_it(
    aws: EmulatedAws, step_context: MakeContext, member_account: str
) -> None:
    set_alias(aws, member_account, "other-alias")

    with pytest.raises(PermanentError):
        validation.account_validation(step_context("account_validation", step_params={"alias": ALIAS}))
    named = validation.account_validation(step_context("account_validation", step_params={"alias": "other-alias"}))
    unchecked = validation.account_validation(
        step_context("account_validation", account_alias=ALIAS, step_params={"alias": False})
    )

    assert named["validated_alias"] == unchecked["validated_alias"] == "other-alias"


def test_landing_in_another_account_is_refused(
    aws: EmulatedAws, step_context: MakeContext, member_account: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = validation.cloud.client

    def client(service: str, **kwargs: Any) -> Any:
        made = real(service, **kwargs)
        if service == "sts":
            monkeypatch.setattr(made, "get_caller_identity", lambda: {"Account": "999999999999", "Arn": "arn"})
        return made

    monkeypatch.setattr(validation.cloud, "client", client)

    with pytest.raises(PermanentError) as failed:
        validation.account_validation(step_context("account_validation", step_params={"alias": False}))

    assert failed.value.code == "wrong_account"


@pytest.mark.parametrize("alias", ["", 5, None])
def test_a_bad_alias_parameter_is_refused_when_the_blueprint_is_saved(db: None, alias: Any) -> None:
    with pytest.raises(InvalidPlan, match="alias must be"):
        plan_from_blueprint([{"name": "iam"}, {"name": "account_validation", "params": {"alias": alias}}])


def test_by_default_it_follows_the_iam_step(db: None) -> None:
    plan = plan_from_blueprint([{"name": "iam"}, {"name": "account_validation"}])

    [step] = [spec for spec in plan if spec.name == "account_validation"]
    assert (step.depends_on, step.legacy_name, step.context) == (("iam",), "CLA_VALIDATION", "accounts")

"""The accounts context's steps against the emulated Organization, their error handling
with stubbed AWS answers, and how ``execute_step`` reports a step's outcome."""

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber

from apps.accounts import api as accounts
from apps.accounts.models import ManagedAccount
from apps.accounts.services import account_start, account_update
from apps.accounts.steps import aws as accounts_aws
from apps.accounts.steps import creation
from apps.cloud import api as cloud
from apps.intake.contracts import AccountRequested
from apps.kernel.contracts import RunStep
from apps.kernel.errors import PermanentError, RetryableError
from apps.kernel.models import OutboxMessage, ProcessedMessage
from apps.kernel.steps import RetryLater, StepContext, execute_step
from tests.conftest import EmulatedAws
from tests.support import factories

pytestmark = pytest.mark.django_db

REQUEST_ID = "00000000-0000-4000-8000-0000000000a1"
EMAIL = "aws.demo.msfp.dev@example.com"
NAME = "demo-msfp-dev"
OURS = [{"Key": "bespoke:request-id", "Value": REQUEST_ID}]  # what CreateAccount tags this request's account with


def account_inputs(request_id: str = REQUEST_ID, **overrides: Any) -> dict[str, Any]:
    """What a run of an account request gives its steps: the AccountRequested payload."""
    fields: dict[str, Any] = {
        "request_id": request_id,
        "payer": "demo",
        "environment": "dev",
        "region": "us-east-1",
        "regulated": False,
        "account_email": EMAIL,
        "account_name": NAME,
        "tags": {"cost_center": "1000100099", "project_name": 'My "Super" Project', "project_short_name": "msfp"},
        "vpc": {"az_count": 2, "prefix_length": 24},
        "user_access_list": ["whitew"],
        "technical_contact": {"full_name": "Walter White", "username": "whitew"},
        "requestor": {"full_name": "John Doe", "username": "doej", "email": "john.doe@example.com"},
    }
    return AccountRequested(**{**fields, **overrides}).run_params()


def context_for(step: str, inputs: dict[str, Any] | None = None, *, attempt: int = 1) -> StepContext:
    return StepContext(run_id="run-1", step=step, attempt=attempt, inputs=inputs or account_inputs())


def org_accounts(aws: EmulatedAws) -> list[dict[str, Any]]:
    return list(aws.client("organizations").list_accounts()["Accounts"])


def managed_account() -> ManagedAccount:
    return ManagedAccount.objects.get(request_id=REQUEST_ID)


# --- Against the emulated Organization -------------------------------------------------


def test_create_then_wait_vends_exactly_one_account_whose_role_can_be_assumed(
    aws: EmulatedAws, demo_payer: accounts.PayerSummary
) -> None:
    before = org_accounts(aws)

    created = creation.create_account(context_for("create_account"))
    waited = creation.wait_account(context_for("wait_account", {**account_inputs(), **created}))

    after = org_accounts(aws)
    [new] = [a for a in after if a["Id"] not in {b["Id"] for b in before}]
    assert len(after) == len(before) + 1
    assert (new["Email"], new["Name"]) == (EMAIL, NAME)
    assert created == {"create_account_request_id": managed_account().create_request_id, "account_email": EMAIL}
    assert created["create_account_request_id"]
    assert waited == {"account_id": new["Id"], "account_email": EMAIL}
    account = managed_account()
    assert (account.aws_account_id, account.status) == (new["Id"], ManagedAccount.Status.ACTIVE)
    member = aws.member_client("sts", account_id=new["Id"])
    assert member.get_caller_identity()["Account"] == new["Id"]
    tags = aws.client("organizations").list_tags_for_resource(ResourceId=new["Id"])["Tags"]
    assert {"Key": "bespoke:request-id", "Value": REQUEST_ID} in tags


def test_running_create_account_again_creates_nothing_new(aws: EmulatedAws, demo_payer: accounts.PayerSummary) -> None:
    first = creation.create_account(context_for("create_account"))
    count = len(org_accounts(aws))

    second = creation.create_account(context_for("create_account", attempt=2))

    assert second == first
    assert len(org_accounts(aws)) == count
    assert ManagedAccount.objects.count() == 1


def test_running_wait_account_again_converges_on_the_same_account(
    aws: EmulatedAws, demo_payer: accounts.PayerSummary
) -> None:
    creation.create_account(context_for("create_account"))

    first = creation.wait_account(context_for("wait_account"))
    second = creation.wait_account(context_for("wait_account", attempt=2))

    assert first == second
    assert managed_account().status == ManagedAccount.Status.ACTIVE


def test_an_account_created_by_an_attempt_whose_answer_was_lost_is_adopted(
    aws: EmulatedAws, demo_payer: accounts.PayerSummary
) -> None:
    # The earlier attempt got as far as CreateAccount, but its answer never reached the database.
    account_start(request_id=REQUEST_ID, payer_name="demo", email=EMAIL, name=NAME)
    org = aws.client("organizations")
    org.create_account(Email=EMAIL, AccountName=NAME, Tags=OURS)
    [existing] = [a for a in org_accounts(aws) if a["Email"] == EMAIL]
    count = len(org_accounts(aws))

    creation.create_account(context_for("create_account", attempt=2))
    waited = creation.wait_account(context_for("wait_account"))

    assert len(org_accounts(aws)) == count
    assert managed_account().aws_account_id == existing["Id"]
    assert waited["account_id"] == existing["Id"]
    assert managed_account().status == ManagedAccount.Status.ACTIVE


def test_an_account_with_the_same_email_in_other_letter_case_is_adopted_too(
    aws: EmulatedAws, demo_payer: accounts.PayerSummary
) -> None:
    aws.client("organizations").create_account(Email=EMAIL.upper(), AccountName=NAME, Tags=OURS)
    count = len(org_accounts(aws))

    creation.create_account(context_for("create_account"))

    assert len(org_accounts(aws)) == count
    assert managed_account().aws_account_id


@pytest.mark.parametrize(
    "tags",
    [[], [{"Key": "bespoke:request-id", "Value": "99999999-9999-4999-8999-999999999999"}]],
    ids=["made-outside-bespoke", "another-requests"],
)
def test_an_existing_account_with_the_email_that_this_request_did_not_create_is_never_taken_over(
    aws: EmulatedAws, demo_payer: accounts.PayerSummary, tags: list[dict[str, str]]
) -> None:
    """A failed or cancelled earlier request's account, or one made by hand, has the email
    a new request would get: the new request fails instead of re-baselining it."""
    aws.client("organizations").create_account(Email=EMAIL, AccountName=NAME, Tags=tags)
    count = len(org_accounts(aws))

    with pytest.raises(PermanentError) as refused:
        creation.create_account(context_for("create_account"))

    assert refused.value.code == "account_email_taken"
    assert len(org_accounts(aws)) == count
    account = managed_account()
    assert (account.aws_account_id, account.status) == ("", ManagedAccount.Status.FAILED)
    assert "adopt" in account.failure_reason


def test_a_creation_followed_by_name_that_turns_out_to_be_another_requests_is_not_taken_over(
    aws: EmulatedAws, demo_payer: accounts.PayerSummary
) -> None:
    """An in-progress creation with the account's name is followed (it may be this
    request's lost attempt); once it has an id, its tag tells whose it is."""
    account_start(request_id=REQUEST_ID, payer_name="demo", email=EMAIL, name=NAME)
    other = aws.client("organizations").create_account(
        Email="someone.else@example.com",
        AccountName=NAME,
        Tags=[{"Key": "bespoke:request-id", "Value": "99999999-9999-4999-8999-999999999999"}],
    )["CreateAccountStatus"]
    account_update(managed_account(), create_request_id=other["Id"])

    with pytest.raises(PermanentError) as refused:
        creation.wait_account(context_for("wait_account"))

    assert refused.value.code == "account_email_taken"
    account = managed_account()
    assert (account.aws_account_id, account.status) == ("", ManagedAccount.Status.FAILED)


def test_wait_account_retries_while_the_new_accounts_role_cannot_be_assumed_yet(
    aws: EmulatedAws, demo_payer: accounts.PayerSummary, monkeypatch: pytest.MonkeyPatch
) -> None:
    creation.create_account(context_for("create_account"))
    real_member_session = cloud.member_session

    def not_yet(**kwargs: Any) -> Any:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not assumable yet"}}, "AssumeRole")

    monkeypatch.setattr(cloud, "member_session", not_yet)
    with pytest.raises(RetryableError) as raised:
        creation.wait_account(context_for("wait_account"))

    assert raised.value.code == "AccessDenied"
    account = managed_account()
    assert account.status == ManagedAccount.Status.CREATING
    assert account.aws_account_id  # known now; the next attempt need not ask Organizations again

    monkeypatch.setattr(cloud, "member_session", real_member_session)
    assert creation.wait_account(context_for("wait_account", attempt=2))["account_id"] == account.aws_account_id
    assert managed_account().status == ManagedAccount.Status.ACTIVE


def test_wait_account_fails_for_good_when_the_role_leads_into_another_account(
    aws: EmulatedAws, demo_payer: accounts.PayerSummary, monkeypatch: pytest.MonkeyPatch
) -> None:
    creation.create_account(context_for("create_account"))
    monkeypatch.setattr(cloud, "member_session", lambda *, management, **kwargs: management)

    with pytest.raises(PermanentError) as raised:
        creation.wait_account(context_for("wait_account"))

    assert raised.value.code == "wrong_account"
    assert managed_account().status == ManagedAccount.Status.CREATING


# --- Stubbed Organizations answers -----------------------------------------------------


@pytest.fixture
def payer(db: None) -> None:
    """A payer in the database only: stubbed tests never reach AWS."""
    factories.payer(
        "demo", management_account_id="123456789012", allowed_environments=["dev"], allowed_regions=["us-east-1"]
    )


@pytest.fixture
def organizations(payer: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    """The Organizations client the steps use, answering only what the test queued."""
    client = cloud.client("organizations")
    monkeypatch.setattr(accounts_aws, "organizations", lambda payer: client)
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def expect_no_earlier_attempt(organizations: Stubber) -> None:
    organizations.add_response("list_accounts", {"Accounts": []}, {})
    organizations.add_response("list_create_account_status", {"CreateAccountStatuses": []}, {"States": ["IN_PROGRESS"]})


def creation_requested(request_id: str = "car-1234567890") -> None:
    account = account_start(request_id=REQUEST_ID, payer_name="demo", email=EMAIL, name=NAME)
    account_update(account, create_request_id=request_id)


def test_wait_account_retries_while_organizations_is_still_creating(organizations: Stubber) -> None:
    creation_requested()
    organizations.add_response(
        "describe_create_account_status",
        {"CreateAccountStatus": {"Id": "car-1234567890", "State": "IN_PROGRESS", "AccountName": NAME}},
        {"CreateAccountRequestId": "car-1234567890"},
    )

    with pytest.raises(RetryableError) as raised:
        creation.wait_account(context_for("wait_account"))

    assert raised.value.code == "create_account_in_progress"
    account = managed_account()
    assert (account.status, account.aws_account_id) == (ManagedAccount.Status.CREATING, "")


def test_wait_account_fails_for_good_when_organizations_reports_the_creation_failed(organizations: Stubber) -> None:
    creation_requested()
    organizations.add_response(
        "describe_create_account_status",
        {"CreateAccountStatus": {"Id": "car-1234567890", "State": "FAILED", "FailureReason": "EMAIL_ALREADY_EXISTS"}},
        {"CreateAccountRequestId": "car-1234567890"},
    )

    with pytest.raises(PermanentError) as raised:
        creation.wait_account(context_for("wait_account"))

    assert raised.value.code == "EMAIL_ALREADY_EXISTS"
    assert "EMAIL_ALREADY_EXISTS" in raised.value.message
    account = managed_account()
    assert (account.status, account.failure_reason) == (ManagedAccount.Status.FAILED, "EMAIL_ALREADY_EXISTS")


def test_create_account_asks_organizations_with_the_requests_email_name_role_and_tags(
    organizations: Stubber,
) -> None:
    expect_no_earlier_attempt(organizations)
    organizations.add_response(
        "create_account",
        {"CreateAccountStatus": {"Id": "car-1234567890", "State": "IN_PROGRESS"}},
        {
            "Email": EMAIL,
            "AccountName": NAME,
            "RoleName": "OrganizationAccountAccessRole",
            "IamUserAccessToBilling": "ALLOW",
            "Tags": ANY,
        },
    )

    outputs = creation.create_account(context_for("create_account"))

    assert outputs == {"create_account_request_id": "car-1234567890", "account_email": EMAIL}
    assert managed_account().create_request_id == "car-1234567890"


def test_create_account_retries_when_throttled_and_keeps_the_aws_error_code(organizations: Stubber) -> None:
    expect_no_earlier_attempt(organizations)
    organizations.add_client_error(
        "create_account", service_error_code="Throttling", service_message="Rate exceeded", http_status_code=400
    )

    with pytest.raises(RetryableError) as raised:
        creation.create_account(context_for("create_account"))

    assert raised.value.code == "Throttling"
    assert "CreateAccount" in raised.value.message
    account = managed_account()  # the next attempt looks up before creating again
    assert (account.status, account.create_request_id) == (ManagedAccount.Status.CREATING, "")


@pytest.mark.parametrize("code", ["AccessDeniedException", "AccessDenied"])
def test_create_account_fails_for_good_when_access_is_denied(organizations: Stubber, code: str) -> None:
    expect_no_earlier_attempt(organizations)
    organizations.add_client_error(
        "create_account", service_error_code=code, service_message="Not allowed", http_status_code=403
    )

    with pytest.raises(PermanentError) as raised:
        creation.create_account(context_for("create_account"))

    assert raised.value.code == code


def test_create_account_fails_for_good_when_organizations_refuses_at_once(organizations: Stubber) -> None:
    expect_no_earlier_attempt(organizations)
    organizations.add_response(
        "create_account",
        {"CreateAccountStatus": {"Id": "car-1", "State": "FAILED", "FailureReason": "ACCOUNT_LIMIT_EXCEEDED"}},
    )

    with pytest.raises(PermanentError) as raised:
        creation.create_account(context_for("create_account"))

    assert raised.value.code == "ACCOUNT_LIMIT_EXCEEDED"
    account = managed_account()
    assert (account.status, account.failure_reason, account.create_request_id) == (
        ManagedAccount.Status.FAILED,
        "ACCOUNT_LIMIT_EXCEEDED",
        "car-1",
    )


def test_create_account_adopts_a_creation_still_in_progress_from_an_earlier_attempt(organizations: Stubber) -> None:
    organizations.add_response("list_accounts", {"Accounts": []})
    organizations.add_response(
        "list_create_account_status",
        {"CreateAccountStatuses": [{"Id": "car-earlier", "AccountName": NAME, "State": "IN_PROGRESS"}]},
    )
    # No create_account is queued: the stubber fails the test if the step calls it.

    outputs = creation.create_account(context_for("create_account"))

    assert outputs["create_account_request_id"] == "car-earlier"
    assert managed_account().create_request_id == "car-earlier"


# --- execute_step: how an outcome is reported ------------------------------------------


class Flaky:
    """A step function that raises what it is told, counting its calls."""

    def __init__(self, error: BaseException | None = None, outputs: dict[str, Any] | None = None) -> None:
        self.error = error
        self.outputs = outputs or {}
        self.calls: list[StepContext] = []

    def __call__(self, context: StepContext) -> dict[str, Any]:
        self.calls.append(context)
        if self.error is not None:
            raise self.error
        return self.outputs


def command(step: str = "flaky", **fields: Any) -> RunStep:
    return RunStep(run_id="run-1", step=step, context="accounts", inputs={"request_id": REQUEST_ID}, **fields)


def recorded() -> list[tuple[str, dict[str, Any]]]:
    return [(row.type, row.envelope["payload"]) for row in OutboxMessage.objects.order_by("sequence")]


def test_a_succeeding_step_records_step_succeeded_with_its_outputs() -> None:
    function = Flaky(outputs={"account_id": "123456789012"})

    execute_step(command(), {"flaky": function}, attempt=1, retry_delay=2.0)

    assert recorded() == [
        (
            "StepSucceeded",
            {"run_id": "run-1", "step": "flaky", "attempts": 1, "outputs": {"account_id": "123456789012"}},
        )
    ]
    assert function.calls[0].inputs == {"request_id": REQUEST_ID}


def test_a_retryable_error_with_attempts_left_records_step_retrying_and_asks_for_a_retry() -> None:
    function = Flaky(RetryableError("CreateAccount: Throttling: Rate exceeded", code="Throttling"))

    with pytest.raises(RetryLater) as raised:
        execute_step(command(), {"flaky": function}, attempt=2, retry_delay=4.25)

    assert raised.value.delay == 4.25
    assert raised.value.error.code == "Throttling"
    assert recorded() == [
        (
            "StepRetrying",
            {
                "run_id": "run-1",
                "step": "flaky",
                "attempts": 2,
                "error_code": "Throttling",
                "message": "CreateAccount: Throttling: Rate exceeded",
                "retry_in_seconds": 4.25,
            },
        )
    ]
    assert not ProcessedMessage.objects.exists()  # the retry of this command must still run


def test_a_retryable_error_on_the_last_attempt_fails_the_step_saying_it_gave_up() -> None:
    function = Flaky(RetryableError("Organizations is still creating the account.", code="create_account_in_progress"))

    execute_step(command(), {"flaky": function}, attempt=9, retry_delay=None)

    [(message_type, payload)] = recorded()
    assert message_type == "StepFailed"
    assert payload["error_code"] == "create_account_in_progress"
    assert payload["attempts"] == 9
    assert payload["message"] == "Organizations is still creating the account. (gave up after 9 attempts)"


def test_a_permanent_error_fails_the_step_at_once_even_with_attempts_left() -> None:
    function = Flaky(PermanentError("CreateAccount: AccessDenied: no", code="AccessDenied"))

    execute_step(command(), {"flaky": function}, attempt=1, retry_delay=2.0)

    [(message_type, payload)] = recorded()
    assert (message_type, payload["error_code"], payload["message"]) == (
        "StepFailed",
        "AccessDenied",
        "CreateAccount: AccessDenied: no",
    )


def test_an_unexpected_exception_fails_the_step_as_an_internal_error() -> None:
    function = Flaky(KeyError("AccountId"))

    execute_step(command(), {"flaky": function}, attempt=1, retry_delay=2.0)

    [(message_type, payload)] = recorded()
    assert message_type == "StepFailed"
    assert payload["error_code"] == "internal_error"
    assert payload["message"] == "KeyError: 'AccountId'"


def test_an_unknown_step_fails_without_running_anything() -> None:
    execute_step(command("teleport"), {"flaky": Flaky()}, attempt=1, retry_delay=2.0)

    [(message_type, payload)] = recorded()
    assert (message_type, payload["error_code"]) == ("StepFailed", "unknown_step")


def test_a_duplicate_command_after_success_neither_reruns_the_step_nor_records_anything() -> None:
    function = Flaky(outputs={"ok": True})
    duplicate = command()

    execute_step(duplicate, {"flaky": function}, attempt=1, retry_delay=2.0)
    execute_step(duplicate, {"flaky": function}, attempt=1, retry_delay=2.0)

    assert len(function.calls) == 1
    assert [message_type for message_type, _ in recorded()] == ["StepSucceeded"]


def test_a_duplicate_command_after_failure_records_nothing_more() -> None:
    function = Flaky(PermanentError("no", code="Nope"))
    duplicate = command()

    execute_step(duplicate, {"flaky": function}, attempt=1, retry_delay=None)
    execute_step(duplicate, {"flaky": function}, attempt=1, retry_delay=None)

    assert [message_type for message_type, _ in recorded()] == ["StepFailed"]


def test_a_retried_command_that_then_succeeds_records_its_retry_and_its_success() -> None:
    function = Flaky(RetryableError("slow", code="Throttling"))
    retried = command()

    with pytest.raises(RetryLater):
        execute_step(retried, {"flaky": function}, attempt=1, retry_delay=1.0)
    function.error = None
    execute_step(retried, {"flaky": function}, attempt=2, retry_delay=2.0)

    assert [(t, p["attempts"]) for t, p in recorded()] == [("StepRetrying", 1), ("StepSucceeded", 2)]

"""create_account and wait_account under the Organizations quotas and under injected
Organizations faults, against the emulated Organization (the kernel clock is moved by
the test, nothing sleeps)."""

from typing import Any

import pytest
from botocore.stub import Stubber

from apps.accounts import api as accounts
from apps.accounts import quotas
from apps.accounts.models import ManagedAccount, QuotaBucket
from apps.accounts.steps import aws as accounts_aws
from apps.accounts.steps import creation
from apps.cloud import api as cloud
from apps.intake.contracts import AccountRequested
from apps.kernel import catalog
from apps.kernel.contracts import RunStep
from apps.kernel.errors import PermanentError, RetryableError, StillInProgress, WaitForQuota
from apps.kernel.models import OutboxMessage
from apps.kernel.steps import RetryLater, StepContext, execute_step
from tests.accounts.conftest import FakeClock
from tests.conftest import EmulatedAws
from tests.support.faults import inject

pytestmark = pytest.mark.django_db


def inputs(index: int = 0) -> dict[str, Any]:
    return AccountRequested(
        request_id=f"00000000-0000-4000-8000-{index:012d}",
        payer="demo",
        environment="dev",
        region="us-east-1",
        regulated=False,
        account_email=f"aws.demo.p{index}.dev@example.com",
        account_name=f"demo-p{index}-dev",
        tags={"cost_center": "1000100099", "project_name": "Project", "project_short_name": f"p{index}"},
        vpc={"az_count": 2, "prefix_length": 24},
        user_access_list=["whitew"],
        technical_contact={"full_name": "Walter White", "username": "whitew"},
        requestor={"full_name": "John Doe", "username": "doej", "email": "john.doe@example.com"},
    ).run_params()


def create(index: int = 0) -> dict[str, Any]:
    return creation.create_account(StepContext(run_id="run", step="create_account", attempt=1, inputs=inputs(index)))


def wait(index: int = 0) -> dict[str, Any]:
    return creation.wait_account(StepContext(run_id="run", step="wait_account", attempt=1, inputs=inputs(index)))


def account(index: int = 0) -> ManagedAccount:
    return ManagedAccount.objects.get(request_id=inputs(index)["request_id"])


def org_emails(aws: EmulatedAws) -> list[str]:
    return [a["Email"] for a in aws.client("organizations").list_accounts()["Accounts"]]


def create_tokens(organization_id: str) -> float:
    return QuotaBucket.objects.get(organization_id=organization_id, name=quotas.CREATE_ACCOUNT).tokens


@pytest.fixture
def organization_id(demo_payer: accounts.PayerSummary, aws: EmulatedAws, fake_clock: FakeClock) -> str:
    return str(accounts.payer_settings(name="demo")["management_account_id"])


@pytest.fixture(autouse=True)
def _default_quotas(settings: Any) -> None:
    settings.ORGANIZATIONS_MAX_CREATIONS_IN_FLIGHT = 5
    settings.ORGANIZATIONS_CREATE_ACCOUNT_RATE = 0.1
    settings.ORGANIZATIONS_CREATE_ACCOUNT_BURST = 3
    settings.ORGANIZATIONS_STATUS_POLL_RATE = 2.0
    settings.ORGANIZATIONS_STATUS_POLL_BURST = 2


# --- The in-flight limit ---------------------------------------------------------------------


def test_at_the_in_flight_limit_create_account_waits_and_takes_no_token(
    organization_id: str, aws: EmulatedAws, settings: Any
) -> None:
    settings.ORGANIZATIONS_MAX_CREATIONS_IN_FLIGHT = 2
    create(0)
    create(1)
    tokens = create_tokens(organization_id)
    emails = org_emails(aws)

    with pytest.raises(WaitForQuota) as waiting:
        create(2)

    assert waiting.value.code == "quota_wait"
    assert waiting.value.message == (
        "2 account creations are in flight in this organization; AWS allows 2 — waiting for one to finish."
    )
    assert 5 <= waiting.value.delay <= 7.5
    assert create_tokens(organization_id) == tokens
    assert org_emails(aws) == emails  # Organizations was not asked
    third = account(2)
    assert (third.status, third.slot_taken_at, third.create_request_id) == (ManagedAccount.Status.CREATING, None, "")


def test_the_further_back_in_line_the_less_often_a_creation_asks_again(
    organization_id: str, aws: EmulatedAws, settings: Any, fake_clock: FakeClock
) -> None:
    """Waiters ask about ``limit`` times a recheck interval between them, not once each;
    the last of a long line still asks well within the time that keeps its place."""
    settings.ORGANIZATIONS_MAX_CREATIONS_IN_FLIGHT = 2
    create(0)
    create(1)
    delays = []
    for index in range(2, 26):
        fake_clock.advance(1)  # one after the other in line
        with pytest.raises(WaitForQuota) as waiting:
            create(index)
        delays.append(waiting.value.delay)

    # 0, 1, 2, ... waiting ahead: 1, 1, 2, 2, 3, 3 ... times the 5 s interval, jittered by up
    # to a half, and never past 20 s (30 s jittered).
    for ahead, delay in enumerate(delays):
        rounds = min(1 + ahead // 2, 4)
        assert 5 * rounds <= delay <= 7.5 * rounds, (ahead, delay)
    assert max(delays) <= 30 < quotas._WAITER_FORGOTTEN_AFTER.total_seconds()
    assert org_emails(aws).count(account(25).email) == 0  # none of them asked Organizations


def test_a_slot_comes_free_when_a_creation_finishes(
    organization_id: str, aws: EmulatedAws, settings: Any, fake_clock: FakeClock
) -> None:
    settings.ORGANIZATIONS_MAX_CREATIONS_IN_FLIGHT = 2
    create(0)
    create(1)
    with pytest.raises(WaitForQuota):
        create(2)

    fake_clock.advance(5)
    wait(0)

    first = account(0)
    assert first.status == ManagedAccount.Status.ACTIVE
    assert first.slot_released_at == fake_clock.now()
    assert create(2)["create_account_request_id"]
    assert account(2).slot_taken_at == fake_clock.now()


def test_no_more_than_the_limit_are_ever_in_flight(organization_id: str, settings: Any, fake_clock: FakeClock) -> None:
    settings.ORGANIZATIONS_MAX_CREATIONS_IN_FLIGHT = 2
    settings.ORGANIZATIONS_CREATE_ACCOUNT_RATE = 100.0
    pending = set(range(6))
    while pending:
        for index in sorted(pending):
            try:
                create(index)
            except WaitForQuota:
                continue
        fake_clock.advance(1)
        for index in sorted(pending):
            if account(index).create_request_id:
                wait(index)
                pending.discard(index)
                break  # finish one at a time, so the others really wait

    intervals = ManagedAccount.objects.values_list("slot_taken_at", "slot_released_at")
    assert quotas.peak_in_flight(intervals) == 2
    assert set(ManagedAccount.objects.values_list("status", flat=True)) == {ManagedAccount.Status.ACTIVE}


# --- The CreateAccount rate -----------------------------------------------------------------


def test_past_the_burst_create_account_waits_for_a_token_holding_its_slot(
    organization_id: str, aws: EmulatedAws, fake_clock: FakeClock
) -> None:
    for index in range(3):
        create(index)

    with pytest.raises(WaitForQuota) as waiting:
        create(3)

    assert waiting.value.delay == pytest.approx(10.0)
    assert waiting.value.message == (
        "CreateAccount is limited to one call every 10 seconds per organization (burst 3)"
        " — waiting 10.0 s for its turn."
    )
    slot = account(3).slot_taken_at
    assert slot == fake_clock.now()
    assert "aws.demo.p3.dev@example.com" not in org_emails(aws)

    fake_clock.advance(10)
    create(3)

    assert "aws.demo.p3.dev@example.com" in org_emails(aws)
    assert account(3).slot_taken_at == slot  # the slot it held, not a new one


def test_a_rerun_that_has_its_request_id_takes_no_slot_or_token(
    organization_id: str, aws: EmulatedAws, settings: Any, fake_clock: FakeClock
) -> None:
    first = create(0)
    bucket = QuotaBucket.objects.get(organization_id=organization_id, name=quotas.CREATE_ACCOUNT)
    slot = account(0).slot_taken_at
    settings.ORGANIZATIONS_MAX_CREATIONS_IN_FLIGHT = 1
    settings.ORGANIZATIONS_CREATE_ACCOUNT_BURST = 1
    fake_clock.advance(1)

    assert create(0) == first
    assert create(0) == first

    again = QuotaBucket.objects.get(pk=bucket.pk)
    assert (again.tokens, again.updated_at) == (bucket.tokens, bucket.updated_at)
    assert account(0).slot_taken_at == slot


# --- Status polls ------------------------------------------------------------------------------


def test_wait_account_polls_only_with_a_status_poll_token(
    organization_id: str, settings: Any, fake_clock: FakeClock
) -> None:
    inject(settings, "organizations:DescribeCreateAccountStatus:in_progress=3")
    create(0)
    outcomes = []
    while "done" not in outcomes and len(outcomes) < 10:
        try:
            wait(0)
            outcomes.append("done")
        except StillInProgress as error:
            outcomes.append(error.code)
        except WaitForQuota as waiting:
            outcomes.append(f"wait {waiting.delay:g}")
            fake_clock.advance(waiting.delay)

    # Two polls at once (the burst), then one every half second; a quota wait polls
    # nothing, so the three IN_PROGRESS answers come from exactly three polls.
    in_progress = "create_account_in_progress"
    assert outcomes == [in_progress, in_progress, "wait 0.5", in_progress, "wait 0.5", "done"]
    assert account(0).status == ManagedAccount.Status.ACTIVE


def test_an_account_whose_id_is_known_is_not_polled_and_takes_no_poll_token(
    organization_id: str, aws: EmulatedAws
) -> None:
    create(0)
    wait(0)
    wait(0)
    wait(0)

    polls = QuotaBucket.objects.get(organization_id=organization_id, name=quotas.STATUS_POLL)
    assert polls.tokens == pytest.approx(1.0)  # only the first wait_account polled


# --- Injected Organizations answers ---------------------------------------------------------------


def test_in_progress_for_n_polls_waits_n_times_then_succeeds(
    organization_id: str, settings: Any, fake_clock: FakeClock
) -> None:
    inject(settings, "organizations:DescribeCreateAccountStatus:in_progress=4")
    create(0)

    for _ in range(4):
        fake_clock.advance(1)
        with pytest.raises(StillInProgress) as raised:
            wait(0)
        assert raised.value.code == "create_account_in_progress"
        assert raised.value.delay == 10  # the default poll interval; no attempt used up
        assert quotas.holds_slot(account(0))
    fake_clock.advance(1)
    waited = wait(0)

    done = account(0)
    assert waited["account_id"] == done.aws_account_id
    assert done.status == ManagedAccount.Status.ACTIVE
    assert done.slot_released_at == fake_clock.now()


def test_failed_reported_by_create_account_fails_for_good_and_frees_the_slot(
    organization_id: str, settings: Any
) -> None:
    inject(settings, "organizations:CreateAccount:failed=EMAIL_ALREADY_EXISTS")

    with pytest.raises(PermanentError) as raised:
        create(0)

    assert raised.value.code == "EMAIL_ALREADY_EXISTS"
    assert "EMAIL_ALREADY_EXISTS" in raised.value.message
    failed = account(0)
    assert (failed.status, failed.failure_reason) == (ManagedAccount.Status.FAILED, "EMAIL_ALREADY_EXISTS")
    assert failed.create_request_id
    assert failed.slot_released_at is not None
    assert not quotas.holds_slot(failed)


def test_failed_reported_by_a_poll_fails_wait_account_for_good_and_frees_the_slot(
    organization_id: str, settings: Any
) -> None:
    inject(settings, "organizations:DescribeCreateAccountStatus:failed=ACCOUNT_LIMIT_EXCEEDED")
    create(0)
    assert quotas.holds_slot(account(0))

    with pytest.raises(PermanentError) as raised:
        wait(0)

    assert raised.value.code == "ACCOUNT_LIMIT_EXCEEDED"
    failed = account(0)
    assert (failed.status, failed.failure_reason) == (ManagedAccount.Status.FAILED, "ACCOUNT_LIMIT_EXCEEDED")
    assert failed.slot_released_at is not None


def test_a_creation_refused_with_an_error_fails_the_account_and_frees_the_slot(
    organization_id: str, aws: EmulatedAws, settings: Any
) -> None:
    inject(settings, "organizations:CreateAccount:AccessDeniedException")

    with pytest.raises(PermanentError) as raised:
        create(0)

    assert raised.value.code == "AccessDeniedException"
    refused = account(0)
    assert refused.status == ManagedAccount.Status.FAILED
    assert "AccessDeniedException" in refused.failure_reason
    assert refused.slot_released_at is not None
    assert "aws.demo.p0.dev@example.com" not in org_emails(aws)


def test_a_throttled_creation_keeps_its_slot_for_the_retry(
    organization_id: str, aws: EmulatedAws, settings: Any, fake_clock: FakeClock
) -> None:
    inject(settings, "organizations:CreateAccount:TooManyRequestsException")
    with pytest.raises(RetryableError) as raised:
        create(0)
    assert raised.value.code == "TooManyRequestsException"
    slot = account(0).slot_taken_at

    inject(settings, "")
    fake_clock.advance(10)
    create(0)

    assert account(0).slot_taken_at == slot
    assert "aws.demo.p0.dev@example.com" in org_emails(aws)


def test_retrying_a_refused_creation_asks_organizations_again(
    organization_id: str, aws: EmulatedAws, settings: Any, fake_clock: FakeClock
) -> None:
    inject(settings, "organizations:CreateAccount:AccessDeniedException")
    with pytest.raises(PermanentError):
        create(0)

    inject(settings, "")  # the operator fixed the permissions and retries the run
    fake_clock.advance(10)
    outputs = create(0)

    retried = account(0)
    assert (retried.status, retried.failure_reason) == (ManagedAccount.Status.CREATING, "")
    assert outputs["create_account_request_id"] == retried.create_request_id
    assert quotas.holds_slot(retried)
    assert retried.slot_taken_at == fake_clock.now()
    assert wait(0)["account_id"]


def test_an_account_found_already_created_frees_its_slot_at_once(organization_id: str, aws: EmulatedAws) -> None:
    # An earlier attempt of this very request created it (its answer was lost).
    aws.client("organizations").create_account(
        Email="aws.demo.p0.dev@example.com",
        AccountName="demo-p0-dev",
        Tags=[{"Key": "bespoke:request-id", "Value": inputs(0)["request_id"]}],
    )

    create(0)

    adopted = account(0)
    assert adopted.aws_account_id
    assert adopted.slot_released_at is not None
    assert not quotas.holds_slot(adopted)


# --- How a quota wait is reported -------------------------------------------------------------------


def test_a_quota_wait_is_reported_as_waiting_its_turn_and_uses_no_attempt(organization_id: str, settings: Any) -> None:
    settings.ORGANIZATIONS_MAX_CREATIONS_IN_FLIGHT = 1
    create(0)
    command = RunStep(run_id="run-2", step="create_account", context="accounts", inputs=inputs(1))

    with pytest.raises(RetryLater) as later:
        execute_step(command, catalog.runners("accounts"), attempt=3, retry_delay=None)

    assert later.value.counts is False
    [retrying] = [m.envelope["payload"] for m in OutboxMessage.objects.filter(type="StepRetrying")]
    assert (retrying["error_code"], retrying["attempts"]) == ("quota_wait", 3)
    assert "in flight in this organization" in retrying["message"]


def test_stubbed_organizations_are_not_called_while_waiting(
    organization_id: str, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.ORGANIZATIONS_CREATE_ACCOUNT_BURST = 1
    create(0)
    client = cloud.client("organizations")
    monkeypatch.setattr(accounts_aws, "organizations", lambda payer: client)

    with Stubber(client) as stubber, pytest.raises(WaitForQuota):
        create(1)  # nothing queued: any call to Organizations would fail the test

    stubber.assert_no_pending_responses()

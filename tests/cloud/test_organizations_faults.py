"""Fault injection for account creation: Organizations answers IN_PROGRESS for a number
of polls, or FAILED with a reason, through the real client against the emulator."""

from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import pytest

from apps.cloud import api as cloud
from apps.cloud import faults
from apps.cloud.emulator import ensure_organization
from apps.cloud.faults import InvalidFaultRule, parse_rules
from tests.conftest import EmulatedAws
from tests.support.faults import inject


@pytest.fixture
def organization(aws: EmulatedAws) -> Iterator[None]:
    ensure_organization()
    yield
    faults.reset()


def create(name: str = "faulty") -> dict[str, Any]:
    return dict(
        cloud.client("organizations").create_account(Email=f"{name}@example.com", AccountName=name)[
            "CreateAccountStatus"
        ]
    )


def poll(request_id: str) -> dict[str, Any]:
    return dict(
        cloud.client("organizations").describe_create_account_status(CreateAccountRequestId=request_id)[
            "CreateAccountStatus"
        ]
    )


def test_the_new_rule_kinds_parse() -> None:
    rules = parse_rules(
        "organizations:DescribeCreateAccountStatus:in_progress=3,"
        "organizations:CreateAccount:failed=EMAIL_ALREADY_EXISTS:0.5,"
        "organizations:DescribeCreateAccountStatus:failed=ACCOUNT_LIMIT_EXCEEDED"
    )

    assert [(r.kind, r.in_progress_polls, r.failure_reason, r.probability) for r in rules] == [
        ("in_progress", 3, None, 1.0),
        ("failed", None, "EMAIL_ALREADY_EXISTS", 0.5),
        ("failed", None, "ACCOUNT_LIMIT_EXCEEDED", 1.0),
    ]
    assert [r.kind for r in parse_rules("ec2:CreateVpc:AccessDenied,*:*:lag=0.1")] == ["error", "lag"]


@pytest.mark.parametrize(
    "bad",
    [
        "organizations:CreateAccount:in_progress=3",  # only polls report progress
        "ec2:DescribeCreateAccountStatus:in_progress=3",
        "*:*:in_progress=3",
        "organizations:DescribeCreateAccountStatus:in_progress=soon",
        "organizations:DescribeCreateAccountStatus:in_progress=-1",
        "organizations:ListAccounts:failed=EMAIL_ALREADY_EXISTS",
        "organizations:CreateAccount:failed=",
        "organizations:CreateAccount:failed=email taken",
        "organizations:CreateAccount:failed=EMAIL_ALREADY_EXISTS:often",
    ],
)
def test_misplaced_or_malformed_organizations_rules_are_refused(bad: str) -> None:
    with pytest.raises(InvalidFaultRule):
        parse_rules(bad)


def test_polls_report_in_progress_n_times_per_creation_then_the_truth(organization: None, settings: Any) -> None:
    inject(settings, "organizations:DescribeCreateAccountStatus:in_progress=2")
    first, second = create("first"), create("second")

    assert [poll(first["Id"])["State"] for _ in range(2)] == ["IN_PROGRESS", "IN_PROGRESS"]
    assert poll(second["Id"])["State"] == "IN_PROGRESS"  # counted per request
    done = poll(first["Id"])
    assert (done["State"], done["AccountId"]) == ("SUCCEEDED", first["AccountId"])
    assert poll(second["Id"])["State"] == "IN_PROGRESS"
    assert poll(second["Id"])["State"] == "SUCCEEDED"


def test_an_in_progress_answer_carries_no_account_id(organization: None, settings: Any) -> None:
    inject(settings, "organizations:DescribeCreateAccountStatus:in_progress=1")
    created = create()

    status = poll(created["Id"])

    assert status["State"] == "IN_PROGRESS"
    assert "AccountId" not in status
    assert "CompletedTimestamp" not in status
    assert status["Id"] == created["Id"]


def test_a_failed_creation_is_reported_in_the_answer_and_every_later_poll(organization: None, settings: Any) -> None:
    inject(settings, "organizations:CreateAccount:failed=EMAIL_ALREADY_EXISTS")

    created = create()

    assert (created["State"], created["FailureReason"]) == ("FAILED", "EMAIL_ALREADY_EXISTS")
    assert "AccountId" not in created
    for _ in range(2):
        polled = poll(created["Id"])
        assert (polled["State"], polled["FailureReason"]) == ("FAILED", "EMAIL_ALREADY_EXISTS")


def test_a_creation_can_fail_after_it_was_accepted(organization: None, settings: Any) -> None:
    inject(settings, "organizations:DescribeCreateAccountStatus:failed=INTERNAL_FAILURE")

    created = create()

    assert created["State"] == "SUCCEEDED"  # CreateAccount itself answers as usual
    assert (poll(created["Id"])["State"], poll(created["Id"])["FailureReason"]) == ("FAILED", "INTERNAL_FAILURE")


def test_progress_and_failure_combine(organization: None, settings: Any) -> None:
    inject(
        settings,
        "organizations:DescribeCreateAccountStatus:in_progress=1,"
        "organizations:DescribeCreateAccountStatus:failed=INTERNAL_FAILURE",
    )
    created = create()

    assert [poll(created["Id"])["State"] for _ in range(3)] == ["IN_PROGRESS", "FAILED", "FAILED"]


def test_a_creation_failed_at_once_is_never_reported_in_progress(organization: None, settings: Any) -> None:
    inject(
        settings,
        "organizations:DescribeCreateAccountStatus:in_progress=2,organizations:CreateAccount:failed=INVALID_EMAIL",
    )
    created = create()

    assert [poll(created["Id"])["State"] for _ in range(2)] == ["FAILED", "FAILED"]


def test_a_probability_picks_whole_creations(organization: None, settings: Any) -> None:
    inject(settings, "organizations:CreateAccount:failed=EMAIL_ALREADY_EXISTS:0.5")

    created = [create(f"account{i}") for i in range(40)]

    failed = [status for status in created if status["State"] == "FAILED"]
    assert 8 < len(failed) < 32
    for status in failed[:3] + [s for s in created if s["State"] != "FAILED"][:3]:
        assert poll(status["Id"])["State"] == status["State"]  # the same fate on every poll


def test_other_operations_and_services_are_untouched(organization: None, settings: Any) -> None:
    inject(
        settings,
        "organizations:CreateAccount:failed=EMAIL_ALREADY_EXISTS,organizations:DescribeCreateAccountStatus:in_progress=5",
    )
    create()

    accounts = cloud.client("organizations").list_accounts()["Accounts"]
    statuses = cloud.client("organizations").list_create_account_status()["CreateAccountStatuses"]

    assert any(a["Email"] == "faulty@example.com" for a in accounts)  # the emulator did create it
    assert all(s["State"] == "SUCCEEDED" for s in statuses)
    assert cloud.client("sts").get_caller_identity()["Account"]


def test_error_and_lag_rules_still_work_beside_the_new_ones(organization: None, settings: Any) -> None:
    inject(
        settings,
        "organizations:DescribeCreateAccountStatus:in_progress=1,organizations:ListAccounts:TooManyRequestsException",
    )
    created = create()

    with pytest.raises(botocore.exceptions.ClientError) as raised:
        cloud.client("organizations").list_accounts()
    assert raised.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert poll(created["Id"])["State"] == "IN_PROGRESS"


def test_an_error_answer_is_left_alone(organization: None, settings: Any) -> None:
    inject(settings, "organizations:DescribeCreateAccountStatus:in_progress=3")

    with pytest.raises(botocore.exceptions.ClientError):
        poll("car-doesnotexist0000000000000000")


def test_inject_starts_from_a_clean_slate_and_can_turn_faults_off(organization: None, settings: Any) -> None:
    inject(settings, "organizations:DescribeCreateAccountStatus:in_progress=1")
    created = create()
    assert poll(created["Id"])["State"] == "IN_PROGRESS"

    inject(settings, "organizations:DescribeCreateAccountStatus:in_progress=1")
    assert poll(created["Id"])["State"] == "IN_PROGRESS"  # counting starts again

    inject(settings, "")
    assert poll(created["Id"])["State"] == "SUCCEEDED"
    with pytest.raises(InvalidFaultRule):
        inject(settings, "organizations:CreateAccount:failed=nope")

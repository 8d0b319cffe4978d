"""A run's life at the service layer: start, dispatch what is ready, record outcomes,
finish once."""

from typing import Any

import pytest

from apps.kernel.contracts import StepFailed, StepRetrying, StepSucceeded
from apps.kernel.models import OutboxMessage
from apps.workflow import services
from apps.workflow.models import Run, StepRun
from apps.workflow.plans import InvalidPlan, StepSpec, account_creation, validate_plan

pytestmark = pytest.mark.django_db

REQUEST_ID = "00000000-0000-4000-8000-0000000000r1"
PARAMS: dict[str, Any] = {"request_id": REQUEST_ID, "payer": "demo", "region": "us-east-1"}

# a ──> b ──┐
#  └──> c ──┴──> d
DIAMOND = (
    StepSpec("a", "accounts"),
    StepSpec("b", "baseline", depends_on=("a",)),
    StepSpec("c", "network", depends_on=("a",)),
    StepSpec("d", "network", depends_on=("b", "c")),
)
CHAIN = (StepSpec("first", "accounts"), StepSpec("second", "accounts", depends_on=("first",)))


def start(plan: tuple[StepSpec, ...] = DIAMOND, *, request_id: str = REQUEST_ID) -> Run:
    return services.run_start(request_id=request_id, params={**PARAMS, "request_id": request_id}, plan=plan)


def envelopes(message_type: str) -> list[dict[str, Any]]:
    return [row.envelope for row in OutboxMessage.objects.filter(type=message_type).order_by("sequence")]


def dispatched(run: Run) -> list[str]:
    """The steps a RunStep command was recorded for, in order."""
    return [e["payload"]["step"] for e in envelopes("RunStep") if e["payload"]["run_id"] == run.id]


def inputs_of(run: Run, step: str) -> dict[str, Any]:
    [payload] = [e["payload"] for e in envelopes("RunStep") if e["payload"]["step"] == step]
    assert payload["run_id"] == run.id
    return dict(payload["inputs"])


def states(run: Run) -> dict[str, str]:
    return dict(StepRun.objects.filter(run=run).values_list("name", "state"))


def status(run: Run) -> str:
    run.refresh_from_db()
    return run.status


def succeed(run: Run, step: str, outputs: dict[str, Any] | None = None, *, attempts: int = 1) -> None:
    services.step_record_succeeded(StepSucceeded(run_id=run.id, step=step, attempts=attempts, outputs=outputs or {}))


def fail(run: Run, step: str, message: str = "it broke", *, code: str = "Broken", attempts: int = 1) -> None:
    services.step_record_failed(
        StepFailed(run_id=run.id, step=step, attempts=attempts, error_code=code, message=message)
    )


# --- Starting --------------------------------------------------------------------------


def test_starting_a_run_creates_one_step_row_per_step_and_dispatches_only_the_roots() -> None:
    run = start()

    steps = list(StepRun.objects.filter(run=run).order_by("position"))
    assert [(s.name, s.context, s.depends_on, s.position) for s in steps] == [
        ("a", "accounts", [], 0),
        ("b", "baseline", ["a"], 1),
        ("c", "network", ["a"], 2),
        ("d", "network", ["b", "c"], 3),
    ]
    assert states(run) == {"a": "running", "b": "pending", "c": "pending", "d": "pending"}
    assert dispatched(run) == ["a"]
    [command] = envelopes("RunStep")
    assert command["payload"]["context"] == "accounts"
    assert command["payload"]["inputs"].items() >= PARAMS.items()
    assert StepRun.objects.get(run=run, name="a").attempts == 1
    assert [e["payload"] for e in envelopes("RunStarted")] == [
        {"run_id": run.id, "request_id": REQUEST_ID, "kind": "account_request"}
    ]
    assert run.status == Run.Status.RUNNING
    assert run.params == PARAMS


def test_every_step_without_dependencies_is_dispatched_at_the_start() -> None:
    run = start((StepSpec("x", "accounts"), StepSpec("y", "network"), StepSpec("z", "network", depends_on=("x",))))

    assert dispatched(run) == ["x", "y"]


def test_starting_the_same_request_again_returns_the_same_run_and_records_nothing() -> None:
    first = start()
    recorded = OutboxMessage.objects.count()

    second = start()

    assert second.id == first.id
    assert Run.objects.count() == 1
    assert StepRun.objects.count() == len(DIAMOND)
    assert OutboxMessage.objects.count() == recorded


def test_runs_of_different_requests_are_independent() -> None:
    one = start(CHAIN, request_id="request-one")
    two = start(CHAIN, request_id="request-two")

    succeed(one, "first")

    assert one.id != two.id
    assert dispatched(one) == ["first", "second"]
    assert dispatched(two) == ["first"]


def test_the_account_creation_plan_starts_with_create_account() -> None:
    run = start(account_creation())

    assert dispatched(run) == ["create_account"]
    assert StepRun.objects.get(run=run, name="wait_account").legacy_name == "CLA_CREATION"


# --- Dispatching dependents ------------------------------------------------------------


def test_a_step_is_dispatched_only_when_all_its_dependencies_succeeded() -> None:
    run = start()

    succeed(run, "a")
    assert dispatched(run) == ["a", "b", "c"]

    succeed(run, "b")
    assert dispatched(run) == ["a", "b", "c"]  # d still waits for c
    assert states(run)["d"] == "pending"

    succeed(run, "c")
    assert dispatched(run) == ["a", "b", "c", "d"]
    assert states(run) == {"a": "succeeded", "b": "succeeded", "c": "succeeded", "d": "running"}


def test_a_dispatched_step_receives_the_run_params_and_the_outputs_of_succeeded_steps() -> None:
    run = start()

    succeed(run, "a", {"account_id": "123456789012"})
    assert inputs_of(run, "b").items() >= {**PARAMS, "account_id": "123456789012"}.items()
    assert inputs_of(run, "c").items() >= {**PARAMS, "account_id": "123456789012"}.items()

    succeed(run, "c", {"vpc_id": "vpc-1"})
    assert "vpc_id" not in inputs_of(run, "b")  # c had not succeeded when b was dispatched

    succeed(run, "b", {"role_arn": "arn:aws:iam::123456789012:role/admin"})
    expected = {
        **PARAMS,
        "account_id": "123456789012",
        "vpc_id": "vpc-1",
        "role_arn": "arn:aws:iam::123456789012:role/admin",
    }
    assert inputs_of(run, "d").items() >= expected.items()


def test_an_outcome_for_a_step_that_is_not_running_is_ignored() -> None:
    run = start(CHAIN)

    succeed(run, "second")  # never dispatched: a stale or misrouted outcome
    fail(run, "second")

    assert states(run) == {"first": "running", "second": "pending"}
    assert status(run) == Run.Status.RUNNING


# --- Completing ------------------------------------------------------------------------


def test_the_run_succeeds_once_every_required_step_succeeded() -> None:
    run = start()
    for step, outputs in (("a", {"account_id": "1"}), ("b", {}), ("c", {"vpc_id": "vpc-1"})):
        succeed(run, step, outputs)
        assert status(run) == Run.Status.RUNNING

    succeed(run, "d", {"zone": "z-1"})

    assert status(run) == Run.Status.SUCCEEDED
    assert run.finished_at is not None
    assert [e["payload"] for e in envelopes("RunSucceeded")] == [
        {
            "run_id": run.id,
            "request_id": REQUEST_ID,
            "outputs": {"account_id": "1", "vpc_id": "vpc-1", "zone": "z-1"},
            "kind": "account_request",
        }
    ]


def test_a_duplicate_step_outcome_neither_completes_the_run_early_nor_twice() -> None:
    run = start(CHAIN)

    succeed(run, "first", {"account_id": "1"})
    succeed(run, "first", {"account_id": "1"}, attempts=2)  # redelivered / stale

    assert status(run) == Run.Status.RUNNING
    assert dispatched(run) == ["first", "second"]
    assert StepRun.objects.get(run=run, name="first").attempts == 1
    assert envelopes("RunSucceeded") == []

    succeed(run, "second")
    succeed(run, "second")
    succeed(run, "first")

    assert status(run) == Run.Status.SUCCEEDED
    assert len(envelopes("RunSucceeded")) == 1
    assert dispatched(run) == ["first", "second"]


def test_two_outcomes_for_the_same_step_count_once_towards_completion() -> None:
    # Three required steps; two StepSucceeded for the same one must not stand in for another.
    run = start((StepSpec("x", "accounts"), StepSpec("y", "accounts"), StepSpec("z", "accounts")))

    succeed(run, "x")
    succeed(run, "x")
    succeed(run, "y")

    assert status(run) == Run.Status.RUNNING
    assert envelopes("RunSucceeded") == []

    succeed(run, "z")
    assert status(run) == Run.Status.SUCCEEDED


# --- Failing ---------------------------------------------------------------------------


def test_a_failed_required_step_fails_the_run_and_skips_what_was_pending() -> None:
    run = start((StepSpec("a", "accounts"), StepSpec("b", "accounts", depends_on=("a",)), StepSpec("p", "network")))

    fail(run, "a", "Organizations could not create the account: EMAIL_ALREADY_EXISTS", code="EMAIL_ALREADY_EXISTS")

    run.refresh_from_db()
    assert run.status == Run.Status.FAILED
    assert run.failure == "a: Organizations could not create the account: EMAIL_ALREADY_EXISTS"
    assert run.finished_at is not None
    assert states(run) == {"a": "failed", "b": "skipped", "p": "running"}  # p was already in flight
    skipped = StepRun.objects.get(run=run, name="b")
    assert skipped.message == "Not run: a failed."
    failed = StepRun.objects.get(run=run, name="a")
    assert (failed.error_code, failed.finished_at is not None) == ("EMAIL_ALREADY_EXISTS", True)
    assert [e["payload"] for e in envelopes("RunFailed")] == [
        {
            "run_id": run.id,
            "request_id": REQUEST_ID,
            "step": "a",
            "error_code": "EMAIL_ALREADY_EXISTS",
            "message": "Organizations could not create the account: EMAIL_ALREADY_EXISTS",
            "kind": "account_request",
        }
    ]


def test_a_failed_run_records_one_failure_whatever_arrives_afterwards() -> None:
    run = start((StepSpec("a", "accounts"), StepSpec("p", "network"), StepSpec("q", "network")))

    fail(run, "a", "first reason")
    fail(run, "a", "duplicate delivery")
    fail(run, "p", "second reason")
    succeed(run, "q")

    run.refresh_from_db()
    assert run.status == Run.Status.FAILED
    assert run.failure == "a: first reason"
    assert len(envelopes("RunFailed")) == 1
    assert envelopes("RunSucceeded") == []
    assert states(run) == {"a": "failed", "p": "failed", "q": "succeeded"}


def test_a_failed_optional_step_does_not_fail_the_run() -> None:
    run = start((StepSpec("a", "accounts"), StepSpec("extra", "network", required=False)))

    fail(run, "extra", "Support plan missing")

    assert status(run) == Run.Status.RUNNING
    assert envelopes("RunFailed") == []

    succeed(run, "a")

    run.refresh_from_db()
    assert run.status == Run.Status.SUCCEEDED
    assert run.failure == ""
    assert states(run) == {"a": "succeeded", "extra": "failed"}
    assert len(envelopes("RunSucceeded")) == 1


def test_steps_after_a_failed_optional_step_still_run() -> None:
    run = start(
        (
            StepSpec("a", "accounts"),
            StepSpec("extra", "network", required=False),
            StepSpec("check", "compliance", depends_on=("a", "extra")),
        )
    )

    fail(run, "extra", "Support plan missing")
    succeed(run, "a")

    assert dispatched(run) == ["a", "extra", "check"]
    succeed(run, "check")
    assert status(run) == Run.Status.SUCCEEDED


# --- Retrying --------------------------------------------------------------------------


def test_a_retrying_step_records_its_attempts_and_reason_and_keeps_running() -> None:
    run = start(CHAIN)

    services.step_record_retrying(
        StepRetrying(
            run_id=run.id,
            step="first",
            attempts=2,
            error_code="Throttling",
            message="CreateAccount: Throttling: Rate exceeded",
            retry_in_seconds=4.0,
        )
    )

    step = StepRun.objects.get(run=run, name="first")
    assert step.state == StepRun.State.RUNNING
    assert step.attempts == 2
    assert step.error_code == "Throttling"
    assert step.message == "Attempt 2 failed, retrying in 4s: CreateAccount: Throttling: Rate exceeded"
    assert status(run) == Run.Status.RUNNING
    assert dispatched(run) == ["first"]

    succeed(run, "first", attempts=3)

    step.refresh_from_db()
    assert (step.state, step.attempts, step.message, step.error_code) == ("succeeded", 3, "", "")


def test_a_retry_notice_for_a_finished_step_changes_nothing() -> None:
    run = start(CHAIN)
    succeed(run, "first")

    services.step_record_retrying(
        StepRetrying(run_id=run.id, step="first", attempts=5, error_code="X", message="late", retry_in_seconds=1)
    )

    step = StepRun.objects.get(run=run, name="first")
    assert (step.state, step.attempts, step.message) == ("succeeded", 1, "")


# --- Plans -----------------------------------------------------------------------------


def test_a_valid_plan_passes_validation() -> None:
    validate_plan(DIAMOND)
    validate_plan(account_creation())


@pytest.mark.parametrize(
    ("plan", "complaint"),
    [
        ((StepSpec("a", "accounts"), StepSpec("a", "network")), "unique"),
        ((StepSpec("a", "accounts", depends_on=("ghost",)),), "ghost"),
        ((StepSpec("a", "accounts", depends_on=("a",)),), "cycle"),
        (
            (
                StepSpec("a", "accounts", depends_on=("c",)),
                StepSpec("b", "x", depends_on=("a",)),
                StepSpec("c", "x", depends_on=("b",)),
            ),
            "cycle",
        ),
        (
            (StepSpec("root", "x"), StepSpec("b", "x", depends_on=("c",)), StepSpec("c", "x", depends_on=("b",))),
            "cycle",
        ),
    ],
    ids=["duplicate names", "unknown dependency", "self dependency", "three-step cycle", "cycle beside a root"],
)
def test_validate_plan_rejects_bad_plans(plan: tuple[StepSpec, ...], complaint: str) -> None:
    with pytest.raises(InvalidPlan, match=complaint):
        validate_plan(plan)


def test_a_run_is_not_started_from_an_invalid_plan() -> None:
    with pytest.raises(InvalidPlan):
        start((StepSpec("a", "accounts", depends_on=("b",)), StepSpec("b", "accounts", depends_on=("a",))))

    assert not Run.objects.exists()
    assert not OutboxMessage.objects.exists()

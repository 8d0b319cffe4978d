"""Run control at the service layer: retry a failed run from its failed steps, cancel a
run (nothing more starts, the CIDR goes back to the pool), and the stuck-run sweeper that
dispatches again — or fails — steps whose worker died."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import transaction

from apps.intake.contracts import ACCEPTED, CANCELLED, FAILED, PROVISIONING, SUCCEEDED
from apps.intake.models import AccountRequest
from apps.intake.services import (
    RequestStateConflict,
    request_cancel,
    request_create,
    request_mark_succeeded,
    request_retry,
)
from apps.kernel import clock, leases
from apps.kernel.contracts import StepFailed, StepRetrying, StepSucceeded
from apps.kernel.errors import ApplicationError, NotFound
from apps.kernel.models import OutboxMessage
from apps.kernel.outbox import record
from apps.network import api as network
from apps.network.models import Allocation
from apps.network.services import cidr_allocate
from apps.workflow import services
from apps.workflow.models import Run, StepRun
from apps.workflow.plans import StepSpec
from tasks import consumers
from tasks.periodic import JOBS
from tasks.subscriptions import EVENT_SUBSCRIBERS
from tests.support.bus import drain
from tests.support.factories import request_body

pytestmark = pytest.mark.django_db

CLIENT = "00000000-0000-4000-8000-00000000c11e"
REQUEST_ID = "00000000-0000-4000-8000-0000000000r1"
T0 = datetime(2031, 3, 4, 5, 0, tzinfo=UTC)
DEADLINE = 900

# a ──> b ──┐
#  └──> c ──┴──> d
DIAMOND = (
    StepSpec("a", "accounts"),
    StepSpec("b", "baseline", depends_on=("a",)),
    StepSpec("c", "network", depends_on=("a",)),
    StepSpec("d", "network", depends_on=("b", "c")),
)
CHAIN = (StepSpec("first", "accounts"), StepSpec("second", "accounts", depends_on=("first",)))


class Clock:
    """The kernel clock, moved by the test."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> datetime:
        self.at += timedelta(seconds=seconds)
        return self.at


@pytest.fixture
def moving_clock() -> Iterator[Clock]:
    source = Clock(T0)
    clock.set_source(source)
    yield source
    clock.set_source(None)


def start(plan: tuple[StepSpec, ...] = DIAMOND, *, request_id: str = REQUEST_ID) -> Run:
    return services.run_start(request_id=request_id, params={"request_id": request_id, "payer": "demo"}, plan=plan)


def envelopes(message_type: str) -> list[dict[str, Any]]:
    return [row.envelope for row in OutboxMessage.objects.filter(type=message_type).order_by("sequence")]


def dispatched(run: Run) -> list[str]:
    return [e["payload"]["step"] for e in envelopes("RunStep") if e["payload"]["run_id"] == run.id]


def steps(run: Run) -> dict[str, StepRun]:
    return {step.name: step for step in StepRun.objects.filter(run=run)}


def states(run: Run) -> dict[str, str]:
    return {name: step.state for name, step in steps(run).items()}


def reloaded(run: Run) -> Run:
    return Run.objects.get(id=run.id)


def succeed(run: Run, step: str, outputs: dict[str, Any] | None = None) -> None:
    services.step_record_succeeded(StepSucceeded(run_id=run.id, step=step, attempts=1, outputs=outputs or {}))


def fail(run: Run, step: str, *, code: str = "AccessDenied", message: str = "denied") -> None:
    services.step_record_failed(StepFailed(run_id=run.id, step=step, attempts=1, error_code=code, message=message))


def publish_all() -> None:
    """Forget what was recorded so far (as if the relay had published it)."""
    OutboxMessage.objects.update(published_at=T0)


def handle_recorded(message_type: str) -> None:
    """Deliver the recorded ``message_type`` messages to their event subscribers (emails aside)."""
    for envelope in envelopes(message_type):
        for subscriber in EVENT_SUBSCRIBERS[message_type]:
            if subscriber.name != "notifications.on_run_finished":
                consumers.handle_event(subscriber, envelope)


def submitted(**overrides: Any) -> str:
    return request_create(client_id=CLIENT, data=request_body(**overrides)).id


def started_request(**overrides: Any) -> tuple[str, Run]:
    """A request whose run (create_account → wait_account) started: create_account running."""
    request_id = submitted(**overrides)
    handle_recorded("AccountRequested")
    handle_recorded("RunStarted")
    publish_all()
    return request_id, Run.objects.get(request_id=request_id)


def failed_request(**overrides: Any) -> tuple[str, Run]:
    request_id, run = started_request(**overrides)
    fail(run, "create_account")
    handle_recorded("RunFailed")
    assert AccountRequest.objects.get(id=request_id).status == FAILED
    return request_id, run


# --- Retry --------------------------------------------------------------------------------


def test_a_retry_resumes_from_the_failed_steps_only() -> None:
    run = start()
    succeed(run, "a", {"account_id": "123456789012"})
    fail(run, "c")  # d is skipped with it
    succeed(run, "b", {"role": "admin"})  # in flight when c failed: recorded, changes nothing
    assert reloaded(run).status == Run.Status.FAILED
    before = steps(run)
    assert (before["c"].state, before["d"].state) == ("failed", "skipped")

    services.run_retry(request_id=REQUEST_ID)

    after = steps(run)
    for done in ("a", "b"):  # untouched
        assert (after[done].state, after[done].outputs, after[done].attempts, after[done].finished_at) == (
            before[done].state,
            before[done].outputs,
            before[done].attempts,
            before[done].finished_at,
        )
    assert (after["c"].state, after["c"].attempts, after["c"].error_code, after["c"].message) == ("running", 2, "", "")
    assert after["d"].state == "pending"  # waits for c again
    assert dispatched(run) == ["a", "b", "c", "c"]
    [again] = [e["payload"] for e in envelopes("RunStep")][-1:]
    assert again["inputs"]["account_id"] == "123456789012"
    assert again["inputs"]["role"] == "admin"
    run = reloaded(run)
    assert (run.status, run.retries, run.failure, run.finished_at) == ("running", 1, "", None)
    assert [e["payload"] for e in envelopes("RunResumed")] == [
        {"run_id": run.id, "request_id": REQUEST_ID, "steps": ["c", "d"], "kind": "account_request"}
    ]

    succeed(run, "c")
    succeed(run, "d")

    assert reloaded(run).status == Run.Status.SUCCEEDED
    assert len(envelopes("RunSucceeded")) == 1


def test_a_run_fails_and_is_retried_again_counting_each_retry() -> None:
    run = start(CHAIN)
    for _ in range(2):
        fail(run, "first")
        services.run_retry(request_id=REQUEST_ID)

    assert reloaded(run).retries == 2
    assert dispatched(run) == ["first", "first", "first"]


@pytest.mark.parametrize("finish", ["running", "succeeded"])
def test_only_a_failed_or_cancelled_run_is_retried(finish: str) -> None:
    run = start(CHAIN)
    if finish == "succeeded":
        succeed(run, "first")
        succeed(run, "second")
    recorded = OutboxMessage.objects.count()

    with pytest.raises(services.RunControlError) as refused:
        services.run_retry(request_id=REQUEST_ID)

    assert refused.value.status_code == 409
    assert reloaded(run).status == finish
    assert reloaded(run).retries == 0
    assert OutboxMessage.objects.count() == recorded
    with pytest.raises(NotFound):
        services.run_retry(request_id="no-such-request")


def test_retrying_a_failed_request_resumes_its_run(payer: None) -> None:
    request_id, run = failed_request()

    retried = request_retry(request_id=request_id)

    assert retried.status == PROVISIONING
    assert AccountRequest.objects.get(id=request_id).status == PROVISIONING
    assert reloaded(run).status == Run.Status.RUNNING
    assert states(run) == {"create_account": "running", "wait_account": "pending"}
    assert dispatched(run) == ["create_account", "create_account"]


def test_a_request_is_not_retried_when_another_live_request_took_its_email(payer: None) -> None:
    first, run = failed_request()
    second = submitted()  # the email was free again
    recorded = OutboxMessage.objects.count()

    with pytest.raises(RequestStateConflict) as refused:
        request_retry(request_id=first)

    assert refused.value.status_code == 409
    assert refused.value.extra == {"existing_request_id": second}
    assert AccountRequest.objects.get(id=first).status == FAILED
    assert reloaded(run).status == Run.Status.FAILED
    assert OutboxMessage.objects.count() == recorded


@pytest.mark.parametrize("status", [ACCEPTED, PROVISIONING, SUCCEEDED])
def test_only_a_failed_or_cancelled_request_is_retried(payer: None, status: str) -> None:
    request_id = submitted()
    AccountRequest.objects.filter(id=request_id).update(status=status)

    with pytest.raises(RequestStateConflict):
        request_retry(request_id=request_id)
    with pytest.raises(NotFound):
        request_retry(request_id="no-such-request")


def test_a_request_cancelled_before_its_run_started_is_not_retried_into_limbo(payer: None) -> None:
    request_id = submitted()
    request_cancel(request_id=request_id, reason="wrong project")

    with pytest.raises(ApplicationError) as refused:
        request_retry(request_id=request_id)

    assert refused.value.status_code == 409
    assert "submit the request again" in refused.value.message
    assert AccountRequest.objects.get(id=request_id).status == CANCELLED
    assert Run.objects.get(request_id=request_id).status == Run.Status.CANCELLED
    assert submitted() != request_id  # which the freed email allows


# --- Cancel ---------------------------------------------------------------------------------


def test_cancelling_a_request_skips_what_has_not_started_and_releases_its_cidr(payer: None) -> None:
    request_id, run = started_request()
    network.pool_create(payer="demo", region="us-east-1", cidr="10.64.0.0/16")
    cidr = cidr_allocate(payer="demo", region="us-east-1", request_id=request_id, prefix_length=24)

    cancelled = request_cancel(request_id=request_id, reason="project dropped")

    assert cancelled.status == CANCELLED
    assert cancelled.failure == "cancelled: project dropped"
    run = reloaded(run)
    assert (run.status, run.failure) == (Run.Status.CANCELLED, "project dropped")
    assert run.finished_at is not None
    by_name = steps(run)
    assert by_name["create_account"].state == "running"  # in flight: it finishes on its own
    assert (by_name["wait_account"].state, by_name["wait_account"].message) == (
        "skipped",
        "Cancelled: project dropped",
    )
    assert [e["payload"] for e in envelopes("RunCancelled")] == [
        {"run_id": run.id, "request_id": request_id, "reason": "project dropped", "kind": "account_request"}
    ]
    assert Allocation.objects.get(request_id=request_id).state == Allocation.State.ALLOCATED

    handle_recorded("RunCancelled")

    assert Allocation.objects.get(request_id=request_id).state == Allocation.State.RELEASED
    again = submitted()  # the email is free for a new request
    assert AccountRequest.objects.get(id=again).status == ACCEPTED
    assert cidr_allocate(payer="demo", region="us-east-1", request_id=again, prefix_length=24) == cidr


def test_a_step_finishing_after_the_cancel_starts_nothing(payer: None) -> None:
    request_id, run = started_request()
    request_cancel(request_id=request_id, reason="stop")

    succeed(run, "create_account", {"account_id": "123456789012"})

    assert states(run) == {"create_account": "succeeded", "wait_account": "skipped"}
    assert reloaded(run).status == Run.Status.CANCELLED
    assert dispatched(run) == ["create_account"]
    assert envelopes("RunSucceeded") == []
    assert AccountRequest.objects.get(id=request_id).status == CANCELLED


def test_a_request_cancelled_before_its_run_started_never_starts(payer: None) -> None:
    request_id = submitted()

    request_cancel(request_id=request_id, reason="changed my mind")

    run = Run.objects.get(request_id=request_id)
    assert run.status == Run.Status.CANCELLED
    assert not StepRun.objects.filter(run=run).exists()
    assert AccountRequest.objects.get(id=request_id).status == CANCELLED

    delivered = drain()  # AccountRequested arrives after the cancel

    assert "AccountRequested" in delivered
    assert "RunCancelled" in delivered
    assert "RunStarted" not in delivered
    assert "RunStep" not in delivered
    assert Run.objects.filter(request_id=request_id).count() == 1
    assert reloaded(run).status == Run.Status.CANCELLED
    assert AccountRequest.objects.get(id=request_id).status == CANCELLED


@pytest.mark.parametrize("outcome", [SUCCEEDED, FAILED, CANCELLED])
def test_a_finished_request_is_not_cancelled(payer: None, outcome: str) -> None:
    if outcome == FAILED:
        request_id, _ = failed_request()
    else:
        request_id, run = started_request()
        if outcome == SUCCEEDED:
            succeed(run, "create_account")
            succeed(run, "wait_account")
            request_mark_succeeded(request_id=request_id)
        else:
            request_cancel(request_id=request_id, reason="first")
    recorded = OutboxMessage.objects.count()

    with pytest.raises(RequestStateConflict) as refused:
        request_cancel(request_id=request_id, reason="too late")

    assert refused.value.status_code == 409
    assert AccountRequest.objects.get(id=request_id).status == outcome
    assert OutboxMessage.objects.count() == recorded
    with pytest.raises(NotFound):
        request_cancel(request_id="no-such-request", reason="x")


def test_a_cancelled_request_can_be_retried_from_where_it_stopped(payer: None) -> None:
    request_id, run = started_request()
    request_cancel(request_id=request_id, reason="pause")
    succeed(run, "create_account", {"account_id": "123456789012"})

    request_retry(request_id=request_id)

    assert AccountRequest.objects.get(id=request_id).status == PROVISIONING
    assert states(run) == {"create_account": "succeeded", "wait_account": "running"}
    assert dispatched(run) == ["create_account", "wait_account"]


# --- The stuck-run sweeper -------------------------------------------------------------------


def sweep(*, max_redispatches: int = 2) -> dict[str, int]:
    return services.run_sweep_stuck(deadline_seconds=DEADLINE, max_redispatches=max_redispatches)


def test_a_step_without_progress_past_its_deadline_is_dispatched_again(moving_clock: Clock) -> None:
    run = start(CHAIN)
    assert sweep() == {"redispatched": 0, "failed": 0, "skipped": 0, "resent": 0}
    moving_clock.advance(DEADLINE - 1)
    assert sweep() == {"redispatched": 0, "failed": 0, "skipped": 0, "resent": 0}  # not yet

    now = moving_clock.advance(2)
    assert sweep() == {"redispatched": 1, "failed": 0, "skipped": 0, "resent": 0}

    first = steps(run)["first"]
    assert (first.state, first.attempts, first.redispatches, first.last_progress_at) == ("running", 2, 1, now)
    assert "re-dispatch 1" in first.message
    assert dispatched(run) == ["first", "first"]
    original, again = envelopes("RunStep")
    assert again["message_id"] != original["message_id"]  # a new command: the runner executes it
    assert again["payload"]["inputs"] == original["payload"]["inputs"]
    assert sweep() == {"redispatched": 0, "failed": 0, "skipped": 0, "resent": 0}  # its deadline starts over


def test_a_step_stuck_after_every_redispatch_fails_its_run(moving_clock: Clock) -> None:
    run = start(CHAIN)
    for _ in range(2):
        moving_clock.advance(DEADLINE + 1)
        assert sweep(max_redispatches=2)["redispatched"] == 1

    moving_clock.advance(DEADLINE + 1)
    assert sweep(max_redispatches=2) == {"redispatched": 0, "failed": 1, "skipped": 0, "resent": 0}

    first = steps(run)["first"]
    assert (first.state, first.error_code, first.redispatches) == ("failed", "step_stuck", 2)
    assert "No progress after 2 re-dispatches" in first.message
    assert states(run)["second"] == "skipped"
    assert reloaded(run).status == Run.Status.FAILED
    [failed] = [e["payload"] for e in envelopes("RunFailed")]
    assert (failed["step"], failed["error_code"]) == ("first", "step_stuck")
    assert dispatched(run) == ["first", "first", "first"]
    moving_clock.advance(DEADLINE + 1)
    assert sweep() == {"redispatched": 0, "failed": 0, "skipped": 0, "resent": 0}


def test_a_stuck_optional_step_fails_alone_and_the_run_goes_on(moving_clock: Clock) -> None:
    run = start((StepSpec("extra", "network", required=False), StepSpec("final", "accounts", depends_on=("extra",))))
    moving_clock.advance(DEADLINE + 1)

    assert sweep(max_redispatches=0) == {"redispatched": 0, "failed": 1, "skipped": 0, "resent": 0}

    assert states(run) == {"extra": "failed", "final": "running"}
    assert reloaded(run).status == Run.Status.RUNNING
    assert envelopes("RunFailed") == []
    succeed(run, "final")
    assert reloaded(run).status == Run.Status.SUCCEEDED


def test_a_step_that_reports_progress_is_left_alone(moving_clock: Clock) -> None:
    run = start(CHAIN)
    retrying_at = moving_clock.advance(DEADLINE - 100)
    services.step_record_retrying(
        StepRetrying(
            run_id=run.id, step="first", attempts=1, error_code="Throttling", message="slow", retry_in_seconds=5
        )
    )
    assert steps(run)["first"].last_progress_at == retrying_at

    moving_clock.advance(200)  # past the deadline from dispatch, not from the retry

    assert sweep() == {"redispatched": 0, "failed": 0, "skipped": 0, "resent": 0}
    assert dispatched(run) == ["first"]
    moving_clock.advance(DEADLINE)
    assert sweep()["redispatched"] == 1


def test_a_step_whose_deliveries_keep_taking_its_lease_is_alive_while_its_events_are_late(
    moving_clock: Clock,
) -> None:
    """A step waiting its turn takes and gives back its lease on every try, straight in
    the database; the StepRetrying events that report it wait in a backlog. The sweeper
    counts the lease as progress: no re-dispatch (which would only lengthen the backlog)
    until no delivery has touched the step for the deadline."""
    run = start(CHAIN)
    moving_clock.advance(DEADLINE - 10)
    fence = leases.acquire(run_id=run.id, step="first", message_id="delivery-1", attempt=1, seconds=60)
    assert isinstance(fence, int)
    released_at = moving_clock.advance(5)
    assert leases.release(run_id=run.id, step="first", fence=fence)
    moving_clock.advance(20)  # past the deadline from dispatch; the lease was given back 20 s ago

    assert sweep() == {"redispatched": 0, "failed": 0, "skipped": 1, "resent": 0}

    first = steps(run)["first"]
    assert (first.redispatches, first.last_progress_at) == (0, released_at)
    assert dispatched(run) == ["first"]
    assert sweep() == {"redispatched": 0, "failed": 0, "skipped": 0, "resent": 0}
    moving_clock.advance(DEADLINE)  # no delivery since: its worker died, or its message was lost
    assert sweep() == {"redispatched": 1, "failed": 0, "skipped": 0, "resent": 0}
    assert dispatched(run) == ["first", "first"]


def test_a_step_whose_success_is_recorded_but_not_yet_reported_is_not_dispatched_again(
    moving_clock: Clock,
) -> None:
    """The step succeeded (its lease says so) but its StepSucceeded event waits in a
    backlog past the deadline: sending the step again would only run it twice."""
    run = start(CHAIN)
    moving_clock.advance(DEADLINE - 5)
    fence = leases.acquire(run_id=run.id, step="first", message_id="delivery-1", attempt=1, seconds=60)
    assert isinstance(fence, int)
    moving_clock.advance(1)
    assert leases.release(run_id=run.id, step="first", fence=fence, succeeded=True)
    moving_clock.advance(10)  # past the deadline from dispatch; the success is 10 s old

    assert sweep() == {"redispatched": 0, "failed": 0, "skipped": 1, "resent": 0}
    assert dispatched(run) == ["first"]
    succeed(run, "first")
    assert states(run)["first"] == "succeeded"


def test_a_success_recorded_but_never_applied_is_reported_again(moving_clock: Clock) -> None:
    """The step succeeded and its StepSucceeded was published, then lost with the worker
    that took it (the broker gives it back only after its visibility timeout): a deadline
    later the sweeper sends that same message again — the step is not run again."""
    run = start(CHAIN)
    fence = leases.acquire(run_id=run.id, step="first", message_id="delivery-1", attempt=1, seconds=60)
    assert isinstance(fence, int)
    with transaction.atomic():
        record(StepSucceeded(run_id=run.id, step="first", attempts=1, outputs={"made": "it"}))
    assert leases.release(run_id=run.id, step="first", fence=fence, succeeded=True)
    OutboxMessage.objects.filter(type="StepSucceeded").update(published_at=clock.now())
    moving_clock.advance(DEADLINE + 1)

    assert sweep() == {"redispatched": 0, "failed": 0, "skipped": 0, "resent": 1}

    [again] = OutboxMessage.objects.filter(type="StepSucceeded")
    assert again.published_at is None  # handed back to the relay, with its own message id
    assert dispatched(run) == ["first"]  # the step itself is not sent again
    assert "sent again" in steps(run)["first"].message
    assert sweep() == {"redispatched": 0, "failed": 0, "skipped": 0, "resent": 0}  # its deadline starts over
    services.step_record_succeeded(StepSucceeded.from_envelope(again.envelope))
    assert states(run) == {"first": "succeeded", "second": "running"}


def test_a_lease_held_since_before_the_deadline_is_no_progress(moving_clock: Clock) -> None:
    """A delivery that took the lease and died (its worker killed) shows nothing after."""
    run = start(CHAIN)
    leases.acquire(run_id=run.id, step="first", message_id="delivery-1", attempt=1, seconds=DEADLINE * 3)
    moving_clock.advance(DEADLINE + 1)

    assert sweep() == {"redispatched": 1, "failed": 0, "skipped": 0, "resent": 0}


def test_steps_of_finished_runs_are_not_swept(moving_clock: Clock, payer: None) -> None:
    request_id, run = started_request()  # create_account running
    request_cancel(request_id=request_id, reason="stop")
    moving_clock.advance(DEADLINE * 10)

    assert sweep() == {"redispatched": 0, "failed": 0, "skipped": 0, "resent": 0}
    assert steps(run)["create_account"].redispatches == 0


def test_the_periodic_job_sweeps_with_the_configured_deadline(moving_clock: Clock, settings: Any) -> None:
    settings.STEP_DEADLINE_SECONDS = 60
    settings.STEP_MAX_REDISPATCHES = 1
    [job] = [job for job in JOBS if job.name == "workflow.sweep_stuck"]
    run = start(CHAIN)

    moving_clock.advance(61)
    assert job.function() == {"redispatched": 1, "failed": 0, "skipped": 0, "resent": 0}
    moving_clock.advance(61)
    assert job.function() == {"redispatched": 0, "failed": 1, "skipped": 0, "resent": 0}
    assert reloaded(run).status == Run.Status.FAILED


def test_a_creation_organizations_refused_is_asked_for_anew_on_retry(db: None) -> None:
    run = start(
        (StepSpec("create_account", "accounts"), StepSpec("wait_account", "accounts", depends_on=("create_account",)))
    )
    succeed(run, "create_account")
    fail(run, "wait_account", code="EMAIL_ALREADY_EXISTS", message="Organizations could not create the account")

    services.run_retry(request_id=REQUEST_ID)

    assert states(run) == {"create_account": "running", "wait_account": "pending"}
    assert dispatched(run)[-1] == "create_account"

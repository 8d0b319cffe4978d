"""Starting runs, dispatching steps and recording their outcomes.

Every function here runs in one transaction that holds the run's row lock, so two step
outcomes of the same run arriving at once are applied one after the other: each sees
the other's result, a step is dispatched once, and a run completes once.
"""

from datetime import datetime, timedelta
from typing import Any

import structlog
from django.db import transaction
from django.db.models import F

from apps.kernel import clock, ids, leases, metrics
from apps.kernel.contracts import RunStep, StepFailed, StepRetrying, StepSucceeded
from apps.kernel.errors import ApplicationError, NotFound
from apps.kernel.outbox import record, send_again
from apps.workflow.contracts import RunCancelled, RunFailed, RunResumed, RunStarted, RunSucceeded
from apps.workflow.models import Run, StepRun
from apps.workflow.plans import StepSpec, validate_plan

log = structlog.get_logger(__name__)

_DONE = (StepRun.State.SUCCEEDED, StepRun.State.SKIPPED)
QUOTA_WAIT = "quota_wait"


@transaction.atomic
def run_start(
    *,
    request_id: str,
    params: dict[str, Any],
    plan: tuple[StepSpec, ...],
    blueprint_name: str = "",
    blueprint_version: int | None = None,
    kind: str = Run.Kind.ACCOUNT_REQUEST,
) -> Run:
    """Start the run for ``request_id`` (once: a second call returns the existing run).

    The run keeps its own copy of the plan (one row per step, with its parameters), so
    editing the blueprint later never changes a run that already started.
    """
    validate_plan(plan)
    existing = Run.objects.filter(request_id=request_id).first()
    if existing is not None:
        return existing
    run = Run.objects.create(
        id=ids.new_id(),
        request_id=request_id,
        kind=kind,
        params=params,
        blueprint_name=blueprint_name,
        blueprint_version=blueprint_version,
        started_at=clock.now(),
    )
    StepRun.objects.bulk_create(
        StepRun(
            run=run,
            name=spec.name,
            context=spec.context,
            legacy_name=spec.legacy_name,
            position=position,
            depends_on=list(spec.depends_on),
            required=spec.required,
            params=spec.params,
            max_attempts=spec.max_attempts,
        )
        for position, spec in enumerate(plan)
    )
    record(RunStarted(run_id=run.id, request_id=request_id, kind=run.kind))
    _dispatch_ready(run)
    return run


# The step_record_* services run in their handler's transaction, with its inbox claim: an
# error rolls all of it back, so a savepoint of their own would only cost two statements.
@transaction.atomic(savepoint=False)
def step_record_succeeded(event: StepSucceeded) -> None:
    run = _locked_run(event.run_id)
    updated = StepRun.objects.filter(run=run, name=event.step, state=StepRun.State.RUNNING).update(
        state=StepRun.State.SUCCEEDED,
        attempts=event.attempts,
        finished_at=event.occurred_at,
        outputs=event.outputs,
        message="",
        error_code="",
    )
    if not updated:
        log.info("workflow.stale_step_outcome", step=event.step, run_id=event.run_id)
        return
    _advance(run)


@transaction.atomic(savepoint=False)
def step_record_retrying(event: StepRetrying) -> None:
    run = _locked_run(event.run_id)
    if event.error_code == QUOTA_WAIT:
        message = f"Waiting its turn (next try in {event.retry_in_seconds:g}s): {event.message}"
    else:
        message = f"Attempt {event.attempts} failed, retrying in {event.retry_in_seconds:g}s: {event.message}"
    StepRun.objects.filter(run=run, name=event.step, state=StepRun.State.RUNNING).update(
        attempts=event.attempts, error_code=event.error_code, message=message, last_progress_at=event.occurred_at
    )


@transaction.atomic(savepoint=False)
def step_record_failed(event: StepFailed) -> None:
    run = _locked_run(event.run_id)
    updated = StepRun.objects.filter(run=run, name=event.step, state=StepRun.State.RUNNING).update(
        state=StepRun.State.FAILED,
        attempts=event.attempts,
        finished_at=event.occurred_at,
        error_code=event.error_code,
        message=event.message,
    )
    if not updated:
        log.info("workflow.stale_step_outcome", step=event.step, run_id=event.run_id)
        return
    step = StepRun.objects.get(run=run, name=event.step)
    if step.required:
        _fail(run, step=step.name, error_code=event.error_code, message=event.message)
    else:
        _advance(run)


def _locked_run(run_id: str) -> Run:
    return Run.objects.select_for_update().get(id=run_id)


def _advance(run: Run) -> None:
    if run.status != Run.Status.RUNNING:
        return
    steps = list(run.steps.all())
    if all(step.state in _DONE for step in steps if step.required):
        _succeed(run, steps)
        return
    _dispatch_ready(run, steps)


def _settled(step: StepRun) -> bool:
    """Whether a step's dependents may go ahead: it succeeded or was skipped, or it was
    optional and failed (an optional step's failure is reported, not propagated)."""
    return step.state in _DONE or (step.state == StepRun.State.FAILED and not step.required)


def _dispatch_ready(run: Run, steps: list[StepRun] | None = None) -> None:
    steps = steps if steps is not None else list(run.steps.all())
    by_name = {step.name: step for step in steps}
    outputs = _collected_outputs(steps)
    now = clock.now()
    for step in steps:
        if step.state != StepRun.State.PENDING or not all(_settled(by_name[dep]) for dep in step.depends_on):
            continue
        # Claim the step: only the transaction that moves it out of PENDING dispatches it.
        claimed = StepRun.objects.filter(pk=step.pk, state=StepRun.State.PENDING).update(
            state=StepRun.State.RUNNING, started_at=now, last_progress_at=now, attempts=F("attempts") + 1
        )
        if claimed:
            record(
                RunStep(
                    run_id=run.id,
                    step=step.name,
                    context=step.context,
                    max_attempts=step.max_attempts,
                    inputs={**run.params, **outputs, "step_params": step.params},
                )
            )


def _collected_outputs(steps: list[StepRun]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for step in steps:
        if step.state == StepRun.State.SUCCEEDED:
            merged.update(step.outputs)
    return merged


def _succeed(run: Run, steps: list[StepRun]) -> None:
    now = clock.now()
    if Run.objects.filter(pk=run.pk, status=Run.Status.RUNNING).update(status=Run.Status.SUCCEEDED, finished_at=now):
        record(RunSucceeded(run_id=run.id, request_id=run.request_id, outputs=_collected_outputs(steps), kind=run.kind))
        metrics.inc_on_commit("bespoke_runs", kind=run.kind, outcome="succeeded")
        ready_in = (now - run.started_at).total_seconds()
        metrics.observe_on_commit("bespoke_time_to_ready_seconds", ready_in, kind=run.kind)


def _fail(run: Run, *, step: str, error_code: str, message: str) -> None:
    now = clock.now()
    failure = f"{step}: {message}"
    if Run.objects.filter(pk=run.pk, status=Run.Status.RUNNING).update(
        status=Run.Status.FAILED, finished_at=now, failure=failure
    ):
        StepRun.objects.filter(run=run, state=StepRun.State.PENDING).update(
            state=StepRun.State.SKIPPED, message=f"Not run: {step} failed."
        )
        record(
            RunFailed(
                run_id=run.id,
                request_id=run.request_id,
                step=step,
                error_code=error_code,
                message=message,
                kind=run.kind,
            )
        )
        metrics.inc_on_commit("bespoke_runs", kind=run.kind, outcome="failed")


class RunControlError(ApplicationError):
    code = "run_state_conflict"
    status_code = 409


def _run_for_request(request_id: str) -> Run:
    run = Run.objects.select_for_update().filter(request_id=request_id).first()
    if run is None:
        raise NotFound(f"No run for request {request_id}.")
    return run


@transaction.atomic
def run_retry(*, request_id: str) -> Run:
    """Retry a failed (or cancelled) run from where it stopped: its failed and skipped
    steps go back to pending and are dispatched again as their dependencies allow;
    what succeeded stays done."""
    run = _run_for_request(request_id)
    if run.status not in (Run.Status.FAILED, Run.Status.CANCELLED):
        raise RunControlError(f"Only a failed or cancelled run can be retried; this one is {run.status}.")
    if not run.steps.exists():  # cancelled before it started: resuming it would run nothing, for ever
        raise RunControlError("This run was cancelled before it started: submit the request again instead.")
    again = list(
        run.steps.filter(state__in=(StepRun.State.FAILED, StepRun.State.SKIPPED)).values_list("name", flat=True)
    )
    if run.steps.filter(name="wait_account", state=StepRun.State.FAILED).exists():
        # Organizations refused the creation itself: waiting again on the same refused
        # request would fail the same way, so the account is asked for anew.
        again.append("create_account")
    run.steps.filter(name__in=again).update(
        state=StepRun.State.PENDING, finished_at=None, message="", error_code="", last_progress_at=None
    )
    run.status = Run.Status.RUNNING
    run.finished_at = None
    run.failure = ""
    run.retries += 1
    run.save(update_fields=["status", "finished_at", "failure", "retries"])
    record(RunResumed(run_id=run.id, request_id=run.request_id, steps=sorted(again), kind=run.kind))
    _dispatch_ready(run)
    return run


@transaction.atomic
def run_cancel(*, request_id: str, reason: str) -> Run:
    """Stop a run: nothing more is dispatched, steps not started are skipped (steps in
    flight finish, and their outcomes are recorded but change nothing). A request whose
    run hasn't started yet gets a cancelled run, so it never starts."""
    run = Run.objects.select_for_update().filter(request_id=request_id).first()
    now = clock.now()
    if run is None:
        run = Run.objects.create(
            id=ids.new_id(),
            request_id=request_id,
            status=Run.Status.CANCELLED,
            started_at=now,
            finished_at=now,
            failure=reason,
        )
    elif run.status != Run.Status.RUNNING:
        raise RunControlError(f"Only a running run can be cancelled; this one is {run.status}.")
    else:
        run.status = Run.Status.CANCELLED
        run.finished_at = now
        run.failure = reason
        run.save(update_fields=["status", "finished_at", "failure"])
        run.steps.filter(state=StepRun.State.PENDING).update(
            state=StepRun.State.SKIPPED, message=f"Cancelled: {reason}"
        )
    record(RunCancelled(run_id=run.id, request_id=run.request_id, reason=reason, kind=run.kind))
    metrics.inc_on_commit("bespoke_runs", kind=run.kind, outcome="cancelled")
    return run


def run_sweep_stuck(*, deadline_seconds: float, max_redispatches: int) -> dict[str, int]:
    """Steps ``running`` with no progress for ``deadline_seconds`` (their worker died, or
    their message was lost) are dispatched again — steps are idempotent, so a second
    execution converges — or, after ``max_redispatches`` tries, failed with a clear reason.
    Progress is what the step's events report, or a delivery taking or giving back its
    lease (``leases.last_activity``): under a backlog the events arrive late, the lease
    does not. Each run is handled in its own transaction."""
    cutoff = clock.now() - timedelta(seconds=deadline_seconds)
    stuck = StepRun.objects.filter(
        state=StepRun.State.RUNNING, run__status=Run.Status.RUNNING, last_progress_at__lt=cutoff
    ).values_list("run_id", "name")
    counts = {"redispatched": 0, "failed": 0, "skipped": 0, "resent": 0}
    for run_id, name in list(stuck):
        counts[_unstick(run_id=run_id, name=name, cutoff=cutoff, max_redispatches=max_redispatches)] += 1
    return counts


@transaction.atomic
def _unstick(*, run_id: str, name: str, cutoff: datetime, max_redispatches: int) -> str:
    run = _locked_run(run_id)
    step = run.steps.get(name=name)
    moved_on = step.last_progress_at is None or step.last_progress_at >= cutoff
    if run.status != Run.Status.RUNNING or step.state != StepRun.State.RUNNING or moved_on:
        return "skipped"  # it moved on meanwhile
    succeeded_at = leases.succeeded_since(run_id=run_id, step=name, since=step.started_at) if step.started_at else None
    if succeeded_at is not None:
        if succeeded_at >= cutoff:
            return "skipped"  # it succeeded since it was dispatched; the event saying so is queued
        # Its success was recorded a deadline ago and its event never applied: lost with a
        # worker killed while holding it (the broker gives it back only after its
        # visibility timeout). Running the step again would do nothing (it is done): its
        # recorded StepSucceeded is sent again instead.
        step.last_progress_at = clock.now()
        step.message = "Its success was recorded but never reported: the report is sent again."
        step.save(update_fields=["last_progress_at", "message"])
        send_again(type_name=StepSucceeded.type_name(), aggregate_id=run_id, step=name)
        return "resent"
    worked_on = leases.last_activity(run_id=run_id, step=name)
    if worked_on is not None and worked_on >= cutoff:
        # A delivery took or gave back the step's lease since the cutoff: it is alive (a
        # step waiting its turn retries every few seconds), its progress events are only
        # late, queued behind others. Dispatching it again would only add to that queue.
        step.last_progress_at = worked_on
        step.save(update_fields=["last_progress_at"])
        return "skipped"
    now = clock.now()
    if step.redispatches >= max_redispatches:
        message = f"No progress after {step.redispatches} re-dispatches: its worker keeps dying or its message is lost."
        step.state = StepRun.State.FAILED
        step.finished_at = now
        step.error_code = "step_stuck"
        step.message = message
        step.save(update_fields=["state", "finished_at", "error_code", "message"])
        if step.required:
            _fail(run, step=name, error_code="step_stuck", message=message)
        else:
            _advance(run)
        return "failed"
    step.redispatches += 1
    step.last_progress_at = now
    step.attempts += 1
    step.message = f"Dispatched again: no progress for a while (re-dispatch {step.redispatches})."
    step.save(update_fields=["redispatches", "last_progress_at", "attempts", "message"])
    steps = list(run.steps.all())
    record(
        RunStep(
            run_id=run.id,
            step=step.name,
            context=step.context,
            max_attempts=step.max_attempts,
            inputs={**run.params, **_collected_outputs(steps), "step_params": step.params},
        )
    )
    return "redispatched"

"""Starting runs, dispatching steps and recording their outcomes.

Every function here runs in one transaction that holds the run's row lock, so two step
outcomes of the same run arriving at once are applied one after the other: each sees
the other's result, a step is dispatched once, and a run completes once.
"""

from typing import Any

import structlog
from django.db import transaction
from django.db.models import F

from apps.kernel import clock, ids
from apps.kernel.contracts import RunStep, StepFailed, StepRetrying, StepSucceeded
from apps.kernel.outbox import record
from apps.workflow.contracts import RunFailed, RunStarted, RunSucceeded
from apps.workflow.models import Run, StepRun
from apps.workflow.plans import StepSpec, validate_plan

log = structlog.get_logger(__name__)

_DONE = (StepRun.State.SUCCEEDED, StepRun.State.SKIPPED)


@transaction.atomic
def run_start(
    *,
    request_id: str,
    params: dict[str, Any],
    plan: tuple[StepSpec, ...],
    blueprint_name: str = "",
    blueprint_version: int | None = None,
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
    record(RunStarted(run_id=run.id, request_id=request_id))
    _dispatch_ready(run)
    return run


@transaction.atomic
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


@transaction.atomic
def step_record_retrying(event: StepRetrying) -> None:
    run = _locked_run(event.run_id)
    StepRun.objects.filter(run=run, name=event.step, state=StepRun.State.RUNNING).update(
        attempts=event.attempts,
        error_code=event.error_code,
        message=f"Attempt {event.attempts} failed, retrying in {event.retry_in_seconds:g}s: {event.message}",
    )


@transaction.atomic
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
            state=StepRun.State.RUNNING, started_at=now, attempts=F("attempts") + 1
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
        record(RunSucceeded(run_id=run.id, request_id=run.request_id, outputs=_collected_outputs(steps)))


def _fail(run: Run, *, step: str, error_code: str, message: str) -> None:
    now = clock.now()
    failure = f"{step}: {message}"
    if Run.objects.filter(pk=run.pk, status=Run.Status.RUNNING).update(
        status=Run.Status.FAILED, finished_at=now, failure=failure
    ):
        StepRun.objects.filter(run=run, state=StepRun.State.PENDING).update(
            state=StepRun.State.SKIPPED, message=f"Not run: {step} failed."
        )
        record(RunFailed(run_id=run.id, request_id=run.request_id, step=step, error_code=error_code, message=message))

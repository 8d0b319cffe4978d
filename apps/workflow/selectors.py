from datetime import datetime

from apps.kernel.search import id_matches
from apps.workflow.contracts import RunFinish, RunSummary, StepOutcome, StepSummary
from apps.workflow.models import Run, StepRun


def run_for_request(*, request_id: str) -> RunSummary | None:
    run = Run.objects.filter(request_id=request_id).prefetch_related("steps").first()
    return _summarize(run) if run else None


def run_get(*, run_id: str) -> RunSummary | None:
    run = Run.objects.filter(id=run_id).prefetch_related("steps").first()
    return _summarize(run) if run else None


def _summarize(run: Run) -> RunSummary:
    return RunSummary(
        id=run.id,
        request_id=run.request_id,
        status=run.status,
        started_at=run.started_at,
        finished_at=run.finished_at,
        failure=run.failure,
        kind=run.kind,
        params=dict(run.params),
        blueprint_name=run.blueprint_name,
        blueprint_version=run.blueprint_version,
        retries=run.retries,
        steps=tuple(
            StepSummary(
                name=step.name,
                legacy_name=step.legacy_name,
                state=step.state,
                required=step.required,
                depends_on=tuple(step.depends_on),
                attempts=step.attempts,
                started_at=step.started_at,
                finished_at=step.finished_at,
                message=step.message,
                outputs=step.outputs,
                error_code=step.error_code,
            )
            for step in run.steps.all()
        ),
    )


def runs_find(*, term: str, limit: int) -> list[RunSummary]:
    """Runs whose id, or the id of what they execute (a request, a command), is ``term``
    or starts with it; newest first. For the operator console's search: staff see every
    run (their admin permissions decide whether they may look at runs at all)."""
    runs = Run.objects.filter(id_matches("id", term) | id_matches("request_id", term)).prefetch_related("steps")
    return [_summarize(run) for run in runs.order_by("-started_at")[:limit]]


def run_finishes(*, since: datetime, until: datetime | None = None) -> list[RunFinish]:
    """Runs that finished in ``[since, until)``, oldest first."""
    queryset = Run.objects.filter(finished_at__gte=since)
    if until is not None:
        queryset = queryset.filter(finished_at__lt=until)
    rows = queryset.order_by("finished_at").values_list("request_id", "status", "started_at", "finished_at")
    return [
        RunFinish(request_id=request_id, status=status, started_at=started, finished_at=finished)
        for request_id, status, started, finished in rows
        if finished is not None  # always, by the filter; for the type checker
    ]


def step_outcomes(*, since: datetime, until: datetime | None = None) -> list[StepOutcome]:
    """Step runs that succeeded or failed in ``[since, until)`` (skipped steps did no work)."""
    queryset = StepRun.objects.filter(finished_at__gte=since, state__in=[StepRun.State.SUCCEEDED, StepRun.State.FAILED])
    if until is not None:
        queryset = queryset.filter(finished_at__lt=until)
    rows = queryset.order_by("finished_at").values_list("name", "state", "started_at", "finished_at")
    return [
        StepOutcome(name=name, state=state, started_at=started, finished_at=finished)
        for name, state, started, finished in rows
        if finished is not None  # always, by the filter; for the type checker
    ]

from apps.workflow.contracts import RunSummary, StepSummary
from apps.workflow.models import Run


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
            )
            for step in run.steps.all()
        ),
    )

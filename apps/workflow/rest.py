"""The run document: how every endpoint that shows a run (an account request's status, an
account's provisioning, a command's status) writes the run and its steps. Other contexts'
endpoints reach it through ``apps.workflow.api``."""

from typing import Any

from rest_framework import serializers

from apps.kernel.rest import iso
from apps.workflow.contracts import RunSummary, StepSummary


class StepStatusSerializer(serializers.Serializer):  # type: ignore[type-arg]
    name = serializers.CharField()
    legacy_name = serializers.CharField(allow_null=True, help_text="The step's name in Tailor's status API.")
    state = serializers.CharField(help_text="`pending`, `running`, `succeeded`, `failed`, `skipped`, ...")
    required = serializers.BooleanField()  # type: ignore[assignment]
    depends_on = serializers.ListField(child=serializers.CharField())
    attempts = serializers.IntegerField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    message = serializers.CharField(allow_blank=True)
    outputs = serializers.DictField(help_text="What the step produced (ids, names).")


class RunSerializer(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.CharField()
    status = serializers.CharField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)


class RunWithStepsSerializer(RunSerializer):
    failure = serializers.CharField(allow_null=True)
    steps = StepStatusSerializer(many=True)


def step_document(step: StepSummary) -> dict[str, Any]:
    return {
        "name": step.name,
        "legacy_name": step.legacy_name or None,
        "state": step.state,
        "required": step.required,
        "depends_on": list(step.depends_on),
        "attempts": step.attempts,
        "started_at": iso(step.started_at),
        "finished_at": iso(step.finished_at),
        "message": step.message,
        "outputs": step.outputs,
    }


def run_document(run: RunSummary | None) -> dict[str, Any] | None:
    """A run and its steps, as ``RunWithStepsSerializer`` documents it (no inputs: they
    hold the payer's settings); ``None`` for no run."""
    if run is None:
        return None
    return {
        "id": run.id,
        "status": run.status,
        "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at),
        "failure": run.failure or None,
        "steps": [step_document(step) for step in run.steps],
    }

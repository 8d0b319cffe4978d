"""A step's span tells a retry from a failure: a step tried again, or waiting for an
Organizations slot, is not an error (nor is the consumer that ran it); a step that
failed for good is."""

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import OperationalError
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from apps.kernel import tracing
from apps.kernel.contracts import RunStep, StepFailed, StepSucceeded
from apps.kernel.errors import PermanentError, RetryableError, WaitForQuota
from apps.kernel.steps import RetryLater, StepContext, StepFunction, execute_step
from tasks import consumers
from tasks.subscriptions import Subscriber
from tests.support.spans import recorded_spans

pytestmark = pytest.mark.django_db

# A step runner as every context has one, for the step functions of this module.
STEPS: dict[str, StepFunction] = {}
RUNNER = Subscriber(name="tests.run_step", handler=f"{__name__}.run_step", runner=True)


def run_step(command: RunStep, *, attempt: int, retry_delay: float | None) -> StepSucceeded | StepFailed | None:
    return execute_step(command, STEPS, attempt=attempt, retry_delay=retry_delay)


@pytest.fixture
def exported() -> Iterator[InMemorySpanExporter]:
    with recorded_spans() as exporter:
        yield exporter


def _step(function: StepFunction) -> dict[str, Any]:
    STEPS["probe"] = function
    return RunStep(run_id="run-1", step="probe", context="tests").to_envelope()


def _spans(exporter: InMemorySpanExporter) -> dict[str, ReadableSpan]:
    return {span.name: span for span in exporter.get_finished_spans()}


def throttled(context: StepContext) -> dict[str, Any]:
    raise RetryableError("slow down", code="Throttling")


def waits_for_a_slot(context: StepContext) -> dict[str, Any]:
    raise WaitForQuota("five creations in flight", delay=7.0)


def database_away(context: StepContext) -> dict[str, Any]:
    raise OperationalError("server closed the connection unexpectedly")


def refused(context: StepContext) -> dict[str, Any]:
    raise PermanentError("not allowed", code="AccessDenied")


def test_a_step_tried_again_is_not_an_error(exported: InMemorySpanExporter) -> None:
    with pytest.raises(RetryLater):
        consumers.run_step(RUNNER, _step(throttled), attempt=1, retry_delay=5.0)

    spans = _spans(exported)
    step, consumer = spans["step probe"], spans["consume tests.run_step"]
    assert step.status.status_code == StatusCode.UNSET
    assert consumer.status.status_code == StatusCode.UNSET
    assert step.attributes is not None
    assert (step.attributes["bespoke.outcome"], step.attributes["bespoke.error_code"]) == ("retrying", "Throttling")
    assert not step.events  # no exception recorded


def test_a_step_waiting_for_an_organizations_slot_is_not_an_error(exported: InMemorySpanExporter) -> None:
    with pytest.raises(RetryLater):
        consumers.run_step(RUNNER, _step(waits_for_a_slot), attempt=1, retry_delay=5.0)

    spans = _spans(exported)
    step, consumer = spans["step probe"], spans["consume tests.run_step"]
    assert step.status.status_code == StatusCode.UNSET
    assert consumer.status.status_code == StatusCode.UNSET
    assert step.attributes is not None
    assert (step.attributes["bespoke.outcome"], step.attributes["bespoke.error_code"]) == ("waiting", "quota_wait")


def test_a_step_waiting_for_the_database_is_not_an_error(exported: InMemorySpanExporter) -> None:
    with pytest.raises(OperationalError):
        consumers.run_step(RUNNER, _step(database_away), attempt=1, retry_delay=5.0)

    spans = _spans(exported)
    step, consumer = spans["step probe"], spans["consume tests.run_step"]
    assert step.status.status_code == StatusCode.UNSET
    assert consumer.status.status_code == StatusCode.UNSET
    assert step.attributes is not None
    assert (step.attributes["bespoke.outcome"], step.attributes["bespoke.error_code"]) == (
        "retrying",
        "database_unavailable",
    )


def test_the_last_attempts_failure_is_an_error(exported: InMemorySpanExporter) -> None:
    outcome = consumers.run_step(RUNNER, _step(throttled), attempt=3, retry_delay=None)  # the last attempt

    assert isinstance(outcome, StepFailed)
    step = _spans(exported)["step probe"]
    assert step.status.status_code == StatusCode.ERROR
    assert step.status.description == "Throttling"
    assert step.attributes is not None
    assert step.attributes["bespoke.outcome"] == "failed"


def test_a_permanent_failure_is_an_error_at_once(exported: InMemorySpanExporter) -> None:
    outcome = consumers.run_step(RUNNER, _step(refused), attempt=1, retry_delay=5.0)

    assert isinstance(outcome, StepFailed)
    step = _spans(exported)["step probe"]
    assert step.status.status_code == StatusCode.ERROR
    assert step.status.description == "AccessDenied"


def test_an_unexpected_exception_still_marks_the_span_failed(exported: InMemorySpanExporter) -> None:
    with pytest.raises(ZeroDivisionError), tracing.span("work", not_errors=(RetryLater,)):
        raise ZeroDivisionError("a bug")

    work = _spans(exported)["work"]
    assert work.status.status_code == StatusCode.ERROR
    assert [event.name for event in work.events] == ["exception"]

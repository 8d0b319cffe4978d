"""The network context's handlers: steps run from ``RunStep`` commands report their outcome,
and a failed run gives its CIDR block back to the pool (once, however often it is told)."""

from collections.abc import Callable

import pytest

from apps.kernel.contracts import RunStep
from apps.kernel.models import OutboxMessage
from apps.kernel.steps import StepContext
from apps.network import api as network
from apps.network import handlers
from apps.network.models import Allocation
from apps.network.services import cidr_allocate
from apps.workflow.contracts import RunFailed
from tasks.consumers import handle_event
from tasks.subscriptions import subscribers_for

pytestmark = pytest.mark.django_db

REQUEST_ID = "11111111-1111-4111-8111-111111111111"


def run_failed(request_id: str = REQUEST_ID) -> RunFailed:
    return RunFailed(run_id="run-1", request_id=request_id, step="dns", error_code="Boom", message="boom")


def allocated() -> list[str]:
    return list(Allocation.objects.filter(state=Allocation.State.ALLOCATED).values_list("request_id", flat=True))


@pytest.fixture
def demo_pool(db: None) -> network.IpPoolSummary:
    return network.pool_create(payer="demo", region="us-east-1", cidr="10.64.0.0/16")


def test_a_failed_run_releases_its_cidr(demo_pool: network.IpPoolSummary) -> None:
    cidr = cidr_allocate(payer="demo", region="us-east-1", request_id=REQUEST_ID, prefix_length=24)
    cidr_allocate(payer="demo", region="us-east-1", request_id="another-request", prefix_length=24)

    handlers.on_run_failed(run_failed())
    handlers.on_run_failed(run_failed())  # idempotent

    assert allocated() == ["another-request"]
    assert network.cidr_preview(payer="demo", region="us-east-1", prefix_length=24) == cidr


def test_a_failed_run_without_a_cidr_is_fine(demo_pool: network.IpPoolSummary) -> None:
    handlers.on_run_failed(run_failed("never-allocated"))
    assert allocated() == []


def test_run_failed_reaches_the_network_handler_through_its_subscription(demo_pool: network.IpPoolSummary) -> None:
    cidr_allocate(payer="demo", region="us-east-1", request_id=REQUEST_ID, prefix_length=24)
    envelope = run_failed().to_envelope()
    [subscriber] = [s for s in subscribers_for(envelope) if s.context == "network"]

    handle_event(subscriber, envelope)
    assert allocated() == []
    # The request is redriven and allocates again; then the old event is delivered again:
    # the inbox makes the redelivery a no-op, so the new block stays.
    cidr_allocate(payer="demo", region="us-east-1", request_id=REQUEST_ID, prefix_length=24)
    handle_event(subscriber, envelope)

    assert subscriber.queue == "q.network"
    assert allocated() == [REQUEST_ID]


def test_a_step_command_runs_the_step_and_records_its_outputs(
    step_context: Callable[..., StepContext], demo_pool: network.IpPoolSummary
) -> None:
    inputs = dict(step_context("vpc").inputs)
    command = RunStep(run_id="run-1", step="vpc", context="network", inputs=inputs)

    handlers.run_step(command, attempt=1, retry_delay=None)

    [outcome] = OutboxMessage.objects.filter(type="StepSucceeded")
    assert outcome.envelope["payload"]["outputs"]["cidr"] == "10.64.0.0/24"
    assert outcome.envelope["payload"]["outputs"]["vpc_id"].startswith("vpc-")


def test_a_step_without_a_pool_fails_with_no_ip_pool(step_context: Callable[..., StepContext]) -> None:
    command = RunStep(run_id="run-1", step="vpc", context="network", inputs=dict(step_context("vpc").inputs))

    handlers.run_step(command, attempt=1, retry_delay=0.1)

    [outcome] = OutboxMessage.objects.filter(type="StepFailed")
    assert outcome.envelope["payload"]["error_code"] == "no_ip_pool"


def test_every_declared_network_step_is_runnable() -> None:
    from apps.kernel import catalog

    runners = catalog.runners("network")
    assert tuple(runners) == ("vpc", "flow_logs", "dns", "direct_connect")
    assert all(callable(runners[name]) for name in runners)


def test_the_network_steps_chain_on_each_others_outputs(
    step_context: Callable[..., StepContext], demo_pool: network.IpPoolSummary
) -> None:
    """As a run does it: each step gets the outputs of those before it (and JSON survives)."""
    outputs: dict[str, object] = {}
    for step in ("vpc", "flow_logs", "dns"):
        inputs = {**step_context(step).inputs, **outputs}
        handlers.run_step(
            RunStep(run_id="run-1", step=step, context="network", inputs=inputs), attempt=1, retry_delay=None
        )
        [outcome] = OutboxMessage.objects.filter(type="StepSucceeded", envelope__payload__step=step)
        outputs.update(outcome.envelope["payload"]["outputs"])

    assert set(outputs) >= {"vpc_id", "cidr", "subnets", "flow_log_id", "hosted_zone_id", "zone_name"}
    assert not OutboxMessage.objects.filter(type="StepFailed").exists()

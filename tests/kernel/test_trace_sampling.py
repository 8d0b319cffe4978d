"""Sampling (``TRACING_SAMPLE_RATIO``): parent-based, by trace id. A trace that is not
recorded makes no spans, yet its context still travels — in the outbox rows, the Celery
messages and what their consumers record — with the sampled flag 0, so no later span of
it is recorded either; a caller's ``traceparent`` decides for its own trace."""

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from rest_framework.test import APIClient

from apps.accounts import api as accounts
from apps.kernel import outbox, tracing
from apps.kernel.models import OutboxMessage
from tests.support.bus import drain
from tests.support.factories import request, request_body
from tests.support.spans import recorded_spans

pytestmark = pytest.mark.django_db

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


def _sampled_at(ratio: float) -> Iterator[InMemorySpanExporter]:
    with recorded_spans(sampler=tracing.sampler(ratio)) as exporter:
        yield exporter


@pytest.fixture
def none_sampled() -> Iterator[InMemorySpanExporter]:
    yield from _sampled_at(0.0)


@pytest.fixture
def all_sampled() -> Iterator[InMemorySpanExporter]:
    yield from _sampled_at(1.0)


def _sampled(flags: str) -> bool:
    """The W3C sampled bit (the other bits say other things, e.g. a random trace id)."""
    return bool(int(flags, 16) & 1)


def _traceparents() -> list[list[str]]:
    """Each outbox row's traceparent, split: version, trace id, span id, flags."""
    return [row.envelope["trace"]["traceparent"].split("-") for row in OutboxMessage.objects.order_by("sequence")]


@pytest.mark.django_db(transaction=True)
def test_at_ratio_0_a_vend_records_no_span_but_its_context_crosses_the_outbox_and_the_broker(
    api: APIClient,
    payer_settings: dict[str, str],
    none_sampled: InMemorySpanExporter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(outbox, "_publisher", None)  # ``drain`` delivers from the outbox rows
    accounts.blueprint_save(
        payer_name="demo", name="baseline", definition={"steps": [{"name": "iam"}, {"name": "cloudtrail"}]}
    )
    none_sampled.clear()

    accepted = api.post("/v1/account-requests", request_body(), format="json")
    drain()

    assert accepted.status_code == 202, accepted.content
    assert api.get(accepted["Location"]).json()["status"] == "succeeded"
    assert list(none_sampled.get_finished_spans()) == []
    parents = _traceparents()
    types = set(OutboxMessage.objects.values_list("type", flat=True))
    assert {"AccountRequested", "RunStep", "StepSucceeded", "RunSucceeded"} <= types  # recorded by consumers too
    assert {trace_id for _, trace_id, _, _ in parents} == {parents[0][1]}  # one trace, the request's
    assert not any(_sampled(flags) for *_, flags in parents)  # carried as not sampled


def test_at_ratio_0_the_relay_and_the_consumer_carry_the_unsampled_trace(
    payer: accounts.PayerSummary, none_sampled: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    from project.celery import app
    from tasks import relay

    sent: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(app, "send_task", lambda name, args, **_: sent.append((name, args[0])))
    monkeypatch.setattr(outbox, "_publisher", None)
    with tracing.span("caller") as caller:
        assert caller is None  # not recorded...
        carried = tracing.carrier()
        assert carried is not None  # ...but its context is current
        request(tags__project_short_name="unsampled")
    relay.sweep(older_than_seconds=0)

    assert sent
    name, envelope = sent[0]
    assert envelope["trace"] == carried
    _, trace_id, _, flags = carried["traceparent"].split("-")
    assert not _sampled(flags)

    # The Celery task that receives the message continues the trace: what it records
    # carries the same trace, still not sampled.
    before = set(OutboxMessage.objects.values_list("message_id", flat=True))
    # (Not .get(): once a worker has run in this process, Celery refuses to wait on a task.)
    assert app.tasks[name].apply(args=[envelope]).successful()
    recorded = [row for row in OutboxMessage.objects.all() if row.message_id not in before]
    assert recorded
    for row in recorded:
        _, row_trace_id, _, row_flags = row.envelope["trace"]["traceparent"].split("-")
        assert (row_trace_id, _sampled(row_flags)) == (trace_id, False)
    assert list(none_sampled.get_finished_spans()) == []


def test_at_ratio_0_a_callers_sampled_trace_is_still_recorded(
    api: APIClient, none_sampled: InMemorySpanExporter
) -> None:
    answer = api.get("/v1/account-requests", HTTP_TRACEPARENT=f"00-{CALLER_TRACE}-{CALLER_SPAN}-01")

    assert answer.status_code == 200
    (http,) = [span for span in none_sampled.get_finished_spans() if span.kind == SpanKind.SERVER]
    assert format(http.context.trace_id, "032x") == CALLER_TRACE


def test_at_ratio_1_a_callers_unsampled_trace_is_carried_but_not_recorded(
    api: APIClient, payer: accounts.PayerSummary, all_sampled: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox, "_publisher", None)

    accepted = api.post(
        "/v1/account-requests", request_body(), format="json", HTTP_TRACEPARENT=f"00-{CALLER_TRACE}-{CALLER_SPAN}-00"
    )

    assert accepted.status_code == 202, accepted.content
    assert list(all_sampled.get_finished_spans()) == []
    assert _traceparents() == [["00", CALLER_TRACE, CALLER_SPAN, "00"]]


def test_at_ratio_1_every_new_trace_is_recorded(all_sampled: InMemorySpanExporter) -> None:
    for number in range(20):
        with tracing.span(f"work {number}") as current:
            assert current is not None
            with tracing.span("inner") as inner:
                assert inner is not None

    assert len(all_sampled.get_finished_spans()) == 40


def test_the_ratio_is_a_setting_between_0_and_1() -> None:
    try:
        tracing.configure("console", sample_ratio=0.0)
        with tracing.span("left out") as current:
            assert current is None
            carried = tracing.carrier()
        assert carried is not None
        assert not _sampled(carried["traceparent"].split("-")[3])
        for wrong in (-0.1, 1.5):
            with pytest.raises(ValueError, match="TRACING_SAMPLE_RATIO"):
                tracing.configure("console", sample_ratio=wrong)
    finally:
        tracing.use(None)


def test_a_leaf_span_of_an_unsampled_trace_is_nothing(none_sampled: InMemorySpanExporter) -> None:
    with tracing.span("root"):
        assert tracing.start_span("iam.GetRole") is None
    assert tracing.start_span("a new trace's root") is None  # not sampled at 0 either

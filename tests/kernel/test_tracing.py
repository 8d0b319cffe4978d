"""Tracing: one trace follows a vend from the HTTP request through the outbox and the
broker into every step and every AWS call (spans kept by an in-memory exporter)."""

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
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


@pytest.fixture
def exported() -> Iterator[InMemorySpanExporter]:
    with recorded_spans() as exporter:
        yield exporter


def _hex(number: int, width: int) -> str:
    return format(number, f"0{width}x")


def _ancestors(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[str]:
    names = []
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        names.append(span.name)
    return names


@pytest.mark.django_db(transaction=True)
def test_one_trace_holds_the_request_the_steps_and_their_aws_calls(
    api: APIClient,
    payer_settings: dict[str, str],
    exported: InMemorySpanExporter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(outbox, "_publisher", None)  # ``drain`` delivers from the outbox rows
    accounts.blueprint_save(
        payer_name="demo", name="baseline", definition={"steps": [{"name": "iam"}, {"name": "cloudtrail"}]}
    )

    accepted = api.post("/v1/account-requests", request_body(), format="json")
    assert accepted.status_code == 202, accepted.content
    exported.clear()  # the spans of the request's own AWS reads stay; the fixture's are dropped
    drain()

    assert api.get(accepted["Location"]).json()["status"] == "succeeded"
    rows = list(OutboxMessage.objects.all())
    assert rows
    assert all("traceparent" in row.envelope["trace"] for row in rows)


@pytest.mark.django_db(transaction=True)
def test_the_trace_crosses_the_outbox_and_the_broker(
    api: APIClient,
    payer_settings: dict[str, str],
    exported: InMemorySpanExporter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(outbox, "_publisher", None)
    accounts.blueprint_save(
        payer_name="demo", name="baseline", definition={"steps": [{"name": "iam"}, {"name": "cloudtrail"}]}
    )
    exported.clear()

    accepted = api.post("/v1/account-requests", request_body(), format="json")
    drain()

    assert accepted.status_code == 202, accepted.content
    spans = list(exported.get_finished_spans())
    by_id = {span.context.span_id: span for span in spans}
    http = [span for span in spans if span.kind == SpanKind.SERVER]
    assert [span.name for span in http] == ["HTTP POST /v1/account-requests"]
    trace_id = http[0].context.trace_id
    assert {span.context.trace_id for span in spans} == {trace_id}  # one trace, all of it
    steps = {span.name: span for span in spans if span.name.startswith("step ")}
    assert {"step create_account", "step wait_account", "step iam", "step cloudtrail"} <= set(steps)
    for step in steps.values():
        lineage = _ancestors(step, by_id)
        assert lineage[0].startswith("consume "), lineage  # the consumer, from the envelope's trace
        assert lineage[-1] == "HTTP POST /v1/account-requests", lineage
    create = [span for span in spans if span.name == "organizations.CreateAccount"]
    assert len(create) == 1
    assert create[0].kind == SpanKind.CLIENT
    assert _ancestors(create[0], by_id)[0] == "step create_account"
    iam_calls = [span for span in spans if span.name.startswith("iam.") and _ancestors(span, by_id)[0] == "step iam"]
    assert len(iam_calls) >= 3
    assert create[0].attributes is not None
    assert create[0].attributes["rpc.service"] == "organizations"


def test_the_relay_hands_the_trace_to_the_broker_in_each_celery_message(
    payer: accounts.PayerSummary, exported: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    from project.celery import app
    from tasks import relay

    sent: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(app, "send_task", lambda name, args, **_: sent.append((name, args[0])))
    monkeypatch.setattr(outbox, "_publisher", None)
    with tracing.span("caller") as caller:
        assert caller is not None
        request(tags__project_short_name="traced")
    relay.sweep(older_than_seconds=0)

    assert sent
    name, envelope = sent[0]
    assert envelope["trace"]["traceparent"].split("-")[1] == _hex(caller.get_span_context().trace_id, 32)
    publish = [span for span in exported.get_finished_spans() if span.kind == SpanKind.PRODUCER]
    assert publish
    assert publish[0].parent is not None
    assert publish[0].parent.span_id == caller.get_span_context().span_id

    # The Celery task that receives the message (run here, as a worker would) continues it.
    exported.clear()
    # (Not .get(): once a worker has run in this process, Celery refuses to wait on a task.)
    assert app.tasks[name].apply(args=[envelope]).successful()
    consumers = [span for span in exported.get_finished_spans() if span.kind == SpanKind.CONSUMER]
    assert [span.name for span in consumers] == [f"consume {name}"]
    assert consumers[0].context.trace_id == caller.get_span_context().trace_id
    assert consumers[0].parent is not None
    assert consumers[0].parent.span_id == caller.get_span_context().span_id


def test_a_callers_traceparent_is_continued(api: APIClient, exported: InMemorySpanExporter) -> None:
    answer = api.get("/v1/account-requests", HTTP_TRACEPARENT=f"00-{CALLER_TRACE}-{CALLER_SPAN}-01")

    assert answer.status_code == 200
    (http,) = [span for span in exported.get_finished_spans() if span.kind == SpanKind.SERVER]
    assert _hex(http.context.trace_id, 32) == CALLER_TRACE
    assert http.parent is not None
    assert _hex(http.parent.span_id, 16) == CALLER_SPAN
    assert http.attributes is not None
    assert http.attributes["http.response.status_code"] == 200


def test_a_malformed_traceparent_starts_a_new_trace(api: APIClient, exported: InMemorySpanExporter) -> None:
    answer = api.get("/v1/account-requests", HTTP_TRACEPARENT="00-nonsense-01")

    assert answer.status_code == 200
    (http,) = [span for span in exported.get_finished_spans() if span.kind == SpanKind.SERVER]
    assert http.parent is None


def test_log_lines_carry_the_trace_id(exported: InMemorySpanExporter, caplog: pytest.LogCaptureFixture) -> None:
    import structlog

    caplog.set_level(logging.INFO)
    with tracing.span("work") as current:
        structlog.get_logger("bespoke.test").info("inside.span")
    structlog.get_logger("bespoke.test").info("outside.span")

    assert current is not None
    lines = {record.msg["event"]: record.msg for record in caplog.records if isinstance(record.msg, dict)}
    assert lines["inside.span"]["trace_id"] == _hex(current.get_span_context().trace_id, 32)
    assert lines["inside.span"]["span_id"] == _hex(current.get_span_context().span_id, 16)
    assert "trace_id" not in lines["outside.span"]


def test_a_refused_aws_call_is_an_error_span(aws: Any, exported: InMemorySpanExporter) -> None:
    from apps.cloud import api as cloud

    with pytest.raises(ClientError):
        cloud.client("iam").get_role(RoleName="missing")

    (call,) = [span for span in exported.get_finished_spans() if span.name == "iam.GetRole"]
    assert call.status.status_code == StatusCode.ERROR
    assert call.attributes is not None
    assert call.attributes["aws.error_code"] == "NoSuchEntity"


def test_off_nothing_is_traced_nor_carried(api: APIClient, payer: accounts.PayerSummary) -> None:
    assert not tracing.enabled()
    with tracing.span("ignored") as nothing:
        assert nothing is None
        assert tracing.carrier() is None
        assert tracing.start_span("ignored") is None

    answer = api.get("/v1/account-requests", HTTP_TRACEPARENT=f"00-{CALLER_TRACE}-{CALLER_SPAN}-01")
    assert answer.status_code == 200


def test_the_exporter_is_chosen_by_setting() -> None:
    try:
        tracing.configure("console")
        assert tracing.enabled()
        tracing.configure("otlp", endpoint="http://127.0.0.1:4318/v1/traces")
        assert tracing.enabled()
        tracing.configure("off")
        assert not tracing.enabled()
        with pytest.raises(ValueError, match="TRACING_EXPORTER"):
            tracing.configure("xray")
    finally:
        tracing.use(None)


def test_batched_spans_are_flushed_on_demand() -> None:
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=3_600_000))
    tracing.use(provider)
    try:
        with tracing.span("batched"):
            pass
        tracing.flush()
    finally:
        tracing.use(None)
    tracing.flush()  # off: nothing to do

    assert [span.name for span in exporter.get_finished_spans()] == ["batched"]


def test_off_no_process_loads_opentelemetry() -> None:
    code = (
        "import sys, django; django.setup(); import project.urls, apps.cloud.api, tasks.consumers, tasks.relay; "
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "project.settings.test", "TRACING_EXPORTER": "off"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout.strip().splitlines()[-1] == "[]", loaded.stderr[-2000:]

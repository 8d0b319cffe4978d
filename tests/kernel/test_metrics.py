"""Metrics: defined once, recorded where things happen, read by Prometheus at ``/metrics``
or written as CloudWatch Embedded Metric Format lines on Lambda."""

import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from django.db import transaction
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from apps.accounts import api as accounts
from apps.kernel import metrics, outbox
from apps.kernel.deadletters import dead_letter_record
from apps.network import api as network
from tests.support.bus import drain
from tests.support.factories import request, request_body

pytestmark = pytest.mark.django_db

Series = dict[tuple[str, tuple[tuple[str, str], ...]], float]
EMF_SCHEMA = json.loads((Path(__file__).parents[1] / "support" / "emf_schema.json").read_text())


def valid_emf(line: dict[str, Any]) -> None:
    """Valid under the specification's schema, and every target member it names present."""
    jsonschema.validate(line, EMF_SCHEMA)
    for directive in line["_aws"]["CloudWatchMetrics"]:
        for name in [dimension for dimensions in directive["Dimensions"] for dimension in dimensions]:
            assert isinstance(line.get(name), str), name
        for metric in directive["Metrics"]:
            assert isinstance(line.get(metric["Name"]), int | float), metric


def scrape(api: APIClient) -> Series:
    answer = api.get("/metrics")
    assert answer.status_code == 200, answer.content[:300]
    assert answer["Content-Type"].startswith("text/plain")
    series: Series = {}
    for family in text_string_to_metric_families(answer.content.decode()):
        for sample in family.samples:
            series[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return series


def value(series: Series, name: str, **labels: str) -> float:
    return series.get((name, tuple(sorted(labels.items()))), 0.0)


def total(series: Series, name: str, **labels: str) -> float:
    """The sum over every series of ``name`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, found), v in series.items() if n == name and wanted <= set(found))


def grew(before: Series, after: Series, name: str, **labels: str) -> float:
    return total(after, name, **labels) - total(before, name, **labels)


@pytest.fixture
def scraper(make_api_client: Callable[..., APIClient]) -> APIClient:
    """A metrics scraper: ``metrics:read`` alone, every payer."""
    return make_api_client("metrics:read", all_payers=True)


@pytest.mark.django_db(transaction=True)  # counted when the run's transaction commits
def test_one_vend_shows_in_the_request_run_step_and_aws_call_series(
    api: APIClient, scraper: APIClient, payer_settings: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox, "_publisher", None)  # ``drain`` delivers, not the relay
    accounts.blueprint_save(
        payer_name="demo", name="baseline", definition={"steps": [{"name": "iam"}, {"name": "cloudtrail"}]}
    )
    before = scrape(scraper)

    accepted = api.post("/v1/account-requests", request_body(), format="json")
    refused = api.post("/v1/account-requests", request_body(environment="nope"), format="json")
    drain()

    after = scrape(scraper)
    assert (accepted.status_code, refused.status_code) == (202, 400)
    assert api.get(accepted["Location"]).json()["status"] == "succeeded"
    assert grew(before, after, "bespoke_account_requests_total", outcome="accepted", code="none") == 1
    assert grew(before, after, "bespoke_account_requests_total", outcome="refused", code="validation_error") == 1
    assert grew(before, after, "bespoke_runs_total", kind="account_request", outcome="succeeded") == 1
    assert grew(before, after, "bespoke_time_to_ready_seconds_count", kind="account_request") == 1
    for step in ("create_account", "wait_account", "iam", "cloudtrail"):
        assert grew(before, after, "bespoke_step_attempts_total", step=step, outcome="succeeded") >= 1, step
        assert grew(before, after, "bespoke_step_duration_seconds_count", step=step) >= 1, step
    assert grew(before, after, "bespoke_aws_calls_total", service="organizations", operation="CreateAccount") == 1
    assert grew(before, after, "bespoke_aws_calls_total", service="iam", code="ok") >= 3
    assert grew(before, after, "bespoke_http_requests_total", method="POST", route="/v1/account-requests") == 2


def test_aws_errors_are_counted_by_code_and_throttles_apart(aws: Any, scraper: APIClient, settings: Any) -> None:
    from apps.cloud import api as cloud

    settings.AWS_FAULTS = "sts:GetCallerIdentity:ThrottlingException:1.0"
    settings.AWS_MAX_ATTEMPTS = 2
    before = scrape(scraper)

    with pytest.raises(Exception, match="Throttling"):
        cloud.client("sts").get_caller_identity()

    after = scrape(scraper)
    assert (
        grew(before, after, "bespoke_aws_calls_total", operation="GetCallerIdentity", code="ThrottlingException") == 1
    )
    # botocore's ``max_attempts`` counts the retries: the first attempt and two more.
    assert grew(before, after, "bespoke_aws_throttles_total", service="sts", operation="GetCallerIdentity") == 3


def test_the_relay_counts_what_it_publishes_and_the_inbox_what_it_skips(
    scraper: APIClient, payer: accounts.PayerSummary, monkeypatch: pytest.MonkeyPatch
) -> None:
    from apps.kernel import inbox
    from project.celery import app
    from tasks import relay

    monkeypatch.setattr(app, "send_task", lambda *args, **kwargs: None)
    request(tags__project_short_name="counted")
    before = scrape(scraper)

    relay.sweep(older_than_seconds=0)
    assert inbox.claim("intake.on_run_started", "m-1") is True
    assert inbox.claim("intake.on_run_started", "m-1") is False

    after = scrape(scraper)
    assert grew(before, after, "bespoke_outbox_published_total", type="AccountRequested") == 1
    assert grew(before, after, "bespoke_inbox_duplicates_total", handler="intake.on_run_started") == 1


def test_the_gauges_are_read_when_scraped(scraper: APIClient, payer: accounts.PayerSummary, settings: Any) -> None:
    network.pool_create(payer="demo", region="us-east-1", cidr="10.0.0.0/16", name="main")
    dead_letter_record(
        handler="intake.on_run_started",
        envelope={"type": "RunStarted", "message_id": "m-1"},
        error_code="Boom",
        error="bug",
        attempts=1,
        history=[],
    )

    series = scrape(scraper)

    assert value(series, "bespoke_dead_letters_open") >= 1
    assert value(series, "bespoke_outbox_lag_seconds") >= 0
    assert value(series, "bespoke_ip_pool_utilisation_ratio", payer="demo", region="us-east-1", pool="main") == 0
    assert value(series, "bespoke_organizations_slots_in_use", payer="demo") == 0


def _rolled_back() -> None:
    with transaction.atomic():
        metrics.inc_on_commit("bespoke_runs", kind="account_request", outcome="failed")
        raise RuntimeError("rolled back")


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_change_is_not_counted(scraper: APIClient) -> None:
    before = scrape(scraper)

    with pytest.raises(RuntimeError):
        _rolled_back()
    with transaction.atomic():
        metrics.inc_on_commit("bespoke_runs", kind="account_request", outcome="cancelled")

    after = scrape(scraper)
    assert grew(before, after, "bespoke_runs_total", kind="account_request", outcome="failed") == 0
    assert grew(before, after, "bespoke_runs_total", kind="account_request", outcome="cancelled") == 1


def test_an_undeclared_metric_or_label_is_a_programming_error() -> None:
    with pytest.raises(metrics.UnknownMetric):
        metrics.inc("bespoke_nope")
    with pytest.raises(metrics.UnknownMetric):
        metrics.inc("bespoke_runs", kind="account_request")  # its outcome is missing
    with pytest.raises(metrics.UnknownMetric):
        metrics.observe("bespoke_runs", 1.0, kind="x", outcome="y")  # a counter, not a histogram


def test_every_metric_is_documented_with_its_labels() -> None:
    page = (Path(__file__).parents[2] / "docs" / "observability.md").read_text()
    for metric in metrics.METRICS.values():
        assert f"`{metric.exported_name}`" in page, metric.name
        for label in metric.labels:
            assert f"`{label}`" in page, (metric.name, label)


def test_metrics_need_their_scope_and_every_payer(make_api_client: Callable[..., APIClient]) -> None:
    assert APIClient().get("/metrics").status_code == 401
    assert make_api_client("requests:read").get("/metrics").status_code == 403
    tenant = make_api_client("metrics:read", "requests:read")  # one payer: series name other payers
    refused = tenant.get("/metrics")
    assert (refused.status_code, refused.json()["code"]) == (403, "all_payers_required")


def test_emf_lines_follow_cloudwatchs_schema(settings: Any) -> None:
    settings.METRICS_EXPORTER = "emf"
    out = io.StringIO()

    metrics.emf_write(
        metrics.METRICS["bespoke_step_duration_seconds"], [({"step": "iam", "outcome": "ok"}, 1.5)], stream=out
    )
    metrics.emf_write(metrics.METRICS["bespoke_dead_letters_open"], [({}, 3.0)], stream=out)

    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    for line in lines:
        valid_emf(line)
    timed, gauge = lines
    assert (timed["step"], timed["bespoke_step_duration_seconds"]) == ("iam", 1.5)
    assert timed["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["step", "outcome"]]
    assert timed["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [
        {"Name": "bespoke_step_duration_seconds", "Unit": "Seconds"}
    ]
    assert gauge["bespoke_dead_letters_open"] == 3.0


def test_on_lambda_each_record_is_one_emf_line_and_nothing_is_called(
    settings: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    settings.METRICS_EXPORTER = "emf"

    metrics.inc("bespoke_webhook_deliveries", outcome="delivered")
    metrics.observe("bespoke_time_to_ready_seconds", 42.0, kind="account_request")

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    assert [line.get("bespoke_webhook_deliveries") for line in lines] == [1, None]
    assert lines[1]["bespoke_time_to_ready_seconds"] == 42.0
    for line in lines:
        valid_emf(line)


def test_processes_sharing_a_directory_are_summed_at_scrape(tmp_path: Path) -> None:
    """Gunicorn's and Celery's processes each write their own file; a scrape sums them."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "project.settings.test"}
    count = (
        "import django; django.setup(); from apps.kernel import metrics; "
        "metrics.inc('bespoke_webhook_deliveries', 2, outcome='delivered')"
    )
    for _ in range(2):
        subprocess.run([sys.executable, "-c", count], env=env, check=True, timeout=120)
    read = (
        "import django; django.setup(); from apps.kernel import metrics; print(metrics.prometheus_text()[0].decode())"
    )
    text = subprocess.run(
        [sys.executable, "-c", read], env=env, check=True, timeout=120, capture_output=True, text=True
    ).stdout

    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert samples[("bespoke_webhook_deliveries_total", (("outcome", "delivered"),))] == 4

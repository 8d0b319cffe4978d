"""Each dashboard chart's numbers, read back from the data points of its SVG."""

from datetime import datetime, timedelta

import pytest
from django.test import Client

from apps.accounts.models import ManagedAccount
from apps.compliance.models import ComplianceSnapshot
from tests.console.conftest import (
    chart_html,
    dashboard,
    make_account,
    make_payer,
    make_pool,
    make_request,
    make_run,
    make_step,
    points,
)

pytestmark = pytest.mark.django_db

CHARTS = (
    "requests-per-day",
    "time-to-ready",
    "step-failure-rates",
    "step-durations",
    "accounts-per-payer",
    "pool-utilisation",
    "guardrails-in-place",
)


def test_requests_per_day_stacks_each_day_by_outcome(staff: Client, now: datetime) -> None:
    day = now - timedelta(days=2)
    for _ in range(3):
        make_request(created_at=day, status="succeeded")
    make_request(created_at=day, status="failed")
    make_request(created_at=now, status="provisioning")
    make_request(created_at=now, status="accepted")
    make_request(created_at=now, status="cancelled")
    make_request(created_at=now - timedelta(days=45), status="succeeded")  # outside the window

    data = points(dashboard(staff), "requests-per-day")

    label = day.date().isoformat()
    assert data[(label, "succeeded")] == "3"
    assert data[(label, "failed")] == "1"
    assert data[(label, "in progress")] == "0"
    today = now.date().isoformat()
    assert data[(today, "in progress")] == "2"
    assert data[(today, "cancelled")] == "1"
    # 30 days x 4 outcomes, one element each, and nothing from before the window.
    assert len(data) == 120
    assert sum(int(v) for v in data.values()) == 7


def test_time_to_ready_is_the_median_and_p95_of_request_to_finished_run(staff: Client, now: datetime) -> None:
    day = now - timedelta(days=1)
    for minutes in (10, 20, 30, 40, 100):
        request = make_request(created_at=day - timedelta(minutes=minutes), status="succeeded")
        make_run(request=request, status="succeeded", started_at=request.created_at, finished_at=day)
    failed = make_request(created_at=day - timedelta(minutes=500), status="failed")
    make_run(request=failed, status="failed", started_at=failed.created_at, finished_at=day)

    data = points(dashboard(staff), "time-to-ready")

    label = day.date().isoformat()
    assert data[(label, "median")] == "30"
    # p95 of 10, 20, 30, 40, 100 interpolated between the 4th and 5th: 40 + 0.8 x 60.
    assert data[(label, "p95")] == "88"
    assert data[(now.date().isoformat(), "median")] == ""  # no runs that day


def test_step_failure_rate_is_failed_over_finished(staff: Client, now: datetime) -> None:
    for state in ("succeeded", "succeeded", "succeeded", "failed"):
        make_step(name="vpc", state=state, started_at=now, seconds=1)
    make_step(name="iam", state="succeeded", started_at=now, seconds=1)
    make_step(name="dns", state="skipped", started_at=None, seconds=0)

    html = dashboard(staff)
    data = points(html, "step-failure-rates")

    assert data == {("iam", "failure rate"): "0", ("vpc", "failure rate"): "25"}
    assert "vpc: 1 of 4" in chart_html(html, "step-failure-rates")


def test_step_durations_are_the_median_and_p95_seconds(staff: Client, now: datetime) -> None:
    for seconds in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11):
        make_step(name="iam", state="succeeded", started_at=now - timedelta(hours=1), seconds=seconds)
    make_step(name="vpc", state="failed", started_at=now - timedelta(hours=1), seconds=42)

    data = points(dashboard(staff), "step-durations")

    assert data[("iam", "median")] == "6"
    assert data[("iam", "p95")] == "10.5"
    assert data[("vpc", "median")] == "42"
    assert data[("vpc", "p95")] == "42"


def test_accounts_per_payer_counts_managed_accounts_by_environment(staff: Client, now: datetime) -> None:
    demo, other = make_payer("demo"), make_payer("other")
    make_account(payer=demo, environment="dev")
    make_account(payer=demo, environment="dev")
    make_account(payer=demo, environment="prd")
    make_account(payer=demo, environment="prd", status=ManagedAccount.Status.CLOSED)
    make_account(payer=other, environment="prd", status=ManagedAccount.Status.CREATING)

    data = points(dashboard(staff), "accounts-per-payer")

    assert data == {
        ("demo", "dev"): "2",
        ("demo", "prd"): "1",
        ("other", "dev"): "0",
        ("other", "prd"): "1",
    }


def test_pool_utilisation_is_allocated_over_capacity(staff: Client, now: datetime) -> None:
    make_pool(cidr="10.0.0.0/24", name="half", allocations=["10.0.0.0/26", "10.0.0.64/26"])
    make_pool(cidr="10.1.0.0/16", name="empty", allocations=[])

    data = points(dashboard(staff), "pool-utilisation")

    assert data == {("demo us-east-1 half", "utilisation"): "50", ("demo us-east-1 empty", "utilisation"): "0"}


def test_guardrails_in_place_is_the_share_of_latest_readings_in_place(staff: Client, now: datetime) -> None:
    def reading(check: str, ok: bool, region: str = "") -> dict[str, object]:
        return {"check": check, "region": region, "ok": ok, "detail": "" if ok else "off"}

    older = [reading("s3_block_public_access", False)]
    latest = [reading("s3_block_public_access", True), reading("guardduty", True, "us-east-1")]
    ComplianceSnapshot.objects.create(
        id="s-1",
        aws_account_id="111111111111",
        payer="demo",
        taken_at=now - timedelta(hours=1),
        compliant=False,
        guardrails=older,
    )
    ComplianceSnapshot.objects.create(
        id="s-2", aws_account_id="111111111111", payer="demo", taken_at=now, compliant=True, guardrails=latest
    )
    ComplianceSnapshot.objects.create(
        id="s-3",
        aws_account_id="222222222222",
        payer="demo",
        taken_at=now,
        compliant=False,
        guardrails=[reading("s3_block_public_access", False), reading("guardduty", True, "us-east-1")],
    )

    data = points(dashboard(staff), "guardrails-in-place")

    assert data == {("guardduty", "in place"): "100", ("s3_block_public_access", "in place"): "50"}


def test_every_chart_has_an_empty_state_without_data(staff: Client, now: datetime) -> None:
    html = dashboard(staff)

    for name in CHARTS:
        figure = chart_html(html, name)
        assert "<svg" not in figure
        assert "No data yet" in figure


def test_a_drawn_chart_has_a_title_axis_labels_and_a_legend(staff: Client, now: datetime) -> None:
    make_request(created_at=now, status="succeeded")

    figure = chart_html(dashboard(staff), "requests-per-day")

    assert "<title" in figure
    assert figure.count('class="axis-label"') == 2
    assert '<g class="legend">' in figure
    for outcome in ("succeeded", "failed", "cancelled", "in progress"):
        assert f">{outcome}</text>" in figure

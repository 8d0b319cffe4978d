"""The alert rules, the dashboards and the CloudFormation alarms watch metrics Bespoke really
exports, with labels those metrics have: a renamed metric fails here, not silently in a
dashboard. Prometheus' rules are checked as ``promtool check rules`` does: the file's
structure, every expression parsed by a PromQL parser, durations well formed."""

import json
import re
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml
from cfnlint.decode import decode

from apps.kernel.metrics import METRICS, Metric

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
GRAFANA = ROOT / "deploy" / "grafana" / "bespoke.json"
TEMPLATE = ROOT / "deploy" / "cloudformation" / "queues.yaml"
DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")
# Series Prometheus derives from a histogram.
HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")


def exported() -> dict[str, Metric]:
    names: dict[str, Metric] = {}
    for metric in METRICS.values():
        names[metric.exported_name] = metric
        if metric.kind == "histogram":
            names.update({metric.name + suffix: metric for suffix in HISTOGRAM_SUFFIXES})
    return names


def selectors(node: Any) -> list[Any]:
    """Every vector selector in a parsed PromQL expression."""
    if type(node).__name__ == "VectorSelector":
        return [node]
    found: list[Any] = []
    for attribute in ("lhs", "rhs", "expr", "args", "vector_selector", "param"):
        child = getattr(node, attribute, None)
        for item in child if isinstance(child, list) else [child]:
            if item is not None and type(item).__module__ == "promql_parser":
                found.extend(selectors(item))
    return found


def check_expression(expression: str) -> None:
    parsed = promql_parser.parse(expression)  # raises on a malformed expression
    names = exported()
    used = selectors(parsed)
    assert used, expression
    for selector in used:
        assert selector.name in names, f"{selector.name} is no metric Bespoke exports ({expression})"
        allowed = {*names[selector.name].labels, "le"}
        for matcher in selector.matchers.matchers:
            assert matcher.name in allowed, f"{selector.name} has no label {matcher.name}"


def rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(ALERTS.read_text())
    assert set(document) == {"groups"}
    found = []
    for group in document["groups"]:
        assert set(group) <= {"name", "interval", "rules"}
        assert group["name"]
        found.extend(group["rules"])
    return found


def test_the_prometheus_rules_pass_the_checks_promtool_makes() -> None:
    alerts = rules()
    names = [rule["alert"] for rule in alerts]
    assert len(names) == len(set(names))
    for rule in alerts:
        assert set(rule) <= {"alert", "expr", "for", "keep_firing_for", "labels", "annotations"}, rule
        assert re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", rule["alert"])
        assert DURATION.match(rule.get("for", "0s")), rule
        assert all(isinstance(value, str) for value in {**rule.get("labels", {}), **rule["annotations"]}.values())
        check_expression(rule["expr"])


@pytest.mark.parametrize(
    "expression",
    [
        "sum(rate(bespoke_step_attempts_total[5m])",  # unbalanced
        "bespoke_no_such_metric > 0",
        'sum(rate(bespoke_step_attempts_total{region="x"}[5m]))',  # no such label
    ],
)
def test_the_check_refuses_a_broken_expression(expression: str) -> None:
    with pytest.raises((ValueError, AssertionError)):
        check_expression(expression)


def test_the_grafana_dashboard_graphs_exported_metrics() -> None:
    dashboard = json.loads(GRAFANA.read_text())
    targets = [target for panel in dashboard["panels"] for target in panel["targets"]]
    assert len(dashboard["panels"]) >= 10
    for target in targets:
        check_expression(target["expr"])
    graphed = {selector.name for t in targets for selector in selectors(promql_parser.parse(t["expr"]))}
    undrawn = {m.exported_name for m in METRICS.values() if m.kind != "histogram"} - graphed
    assert not undrawn - {
        "bespoke_inbox_duplicates_total",
        "bespoke_outbox_published_total",
        "bespoke_dead_letters_total",
    }


def _template() -> dict[str, Any]:
    template, problems = decode(str(TEMPLATE))
    assert not problems
    return dict(template)


def _emf_dimension_sets(metric: Metric) -> list[set[str]]:
    return [set(metric.labels), *[set(rollup) for rollup in metric.rollups]]


def test_the_cloudwatch_alarms_watch_what_the_emf_lines_carry() -> None:
    resources = _template()["Resources"]
    alarms = {name: r["Properties"] for name, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    stats = []
    for properties in alarms.values():
        if properties.get("Namespace") == "Bespoke":
            stats.append(properties)
        for query in properties.get("Metrics", []):
            if "MetricStat" in query:
                stats.append(query["MetricStat"]["Metric"])
    assert len(stats) >= 5
    for watched in stats:
        metric = METRICS[watched["MetricName"]]  # the EMF name: no _total
        dimensions = {d["Name"] for d in watched.get("Dimensions", [])}
        assert dimensions in _emf_dimension_sets(metric), (metric.name, dimensions)
    for wanted in ("OutboxLagAlarm", "DeadLettersOpenAlarm", "StepFailureRateAlarm", "AwsThrottlingAlarm"):
        assert alarms[wanted]["AlarmActions"] == [{"Ref": "OperatorsTopic"}]
    assert alarms["ApiServerErrorsAlarm"]["MetricName"] == "5XXError"


def test_the_cloudwatch_dashboard_draws_emf_metrics() -> None:
    body = _template()["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    dashboard = json.loads(body.replace("${AWS::Region}", "us-east-1").replace("${StageName}", "bespoke-dev"))
    drawn = [row for widget in dashboard["widgets"] for row in widget["properties"]["metrics"]]
    ours = [row for row in drawn if row[0] == "Bespoke"]
    assert ours
    for row in ours:
        metric = METRICS[row[1]]
        assert set(row[2::2]) in _emf_dimension_sets(metric), row

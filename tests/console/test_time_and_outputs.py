"""How the console writes times, durations and ids, and a step's outputs as fields."""

from datetime import UTC, datetime, timedelta

import pytest

from apps.console.outputs import label, render
from apps.kernel.columns import ago, ago_text, at, duration_text, short_id, took

NOW = datetime(2026, 12, 6, 12, 25, 3, tzinfo=UTC)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.06, "0.06 s"),
        (4.25, "4.2 s"),
        (12.4, "12 s"),
        (192, "3 min 12 s"),
        (180, "3 min"),
        (7500, "2 h 5 min"),
        (3 * 86400 + 4 * 3600, "3 d 4 h"),
    ],
)
def test_durations(seconds: float, text: str) -> None:
    assert duration_text(seconds) == text


@pytest.mark.parametrize(
    ("before", "text"),
    [
        (timedelta(0), "just now"),
        (timedelta(seconds=40), "40 s ago"),
        (timedelta(minutes=3, seconds=59), "3 min ago"),
        (timedelta(hours=2), "2 h ago"),
        (timedelta(days=1), "1 day ago"),
        (timedelta(days=5), "5 days ago"),
        (timedelta(days=45), "2026-10-22"),
        (-timedelta(minutes=3), "in 3 min"),
    ],
)
def test_ages(before: timedelta, text: str) -> None:
    assert ago_text(NOW - before, now=NOW) == text


def test_an_age_carries_the_time_to_the_second_and_the_reverse() -> None:
    then = NOW - timedelta(minutes=3)

    assert ago(then, now=NOW) == (
        '<time class="ago" datetime="2026-12-06T12:22:03+00:00" title="2026-12-06 12:22:03 UTC">3 min ago</time>'
    )
    assert at(then, now=NOW, time_only=True) == (
        '<time class="at" datetime="2026-12-06T12:22:03+00:00" title="2026-12-06 12:22:03 UTC (3 min ago)">'
        "12:22:03</time>"
    )
    assert took(then, None, now=NOW) == '<span class="took ongoing" title="still going">3 min…</span>'
    assert short_id("3f2a9c1b-0000-4000-8000-000000000000") == (
        '<code class="short-id" title="3f2a9c1b-0000-4000-8000-000000000000">3f2a9c1b</code>'
    )


@pytest.mark.parametrize(
    ("key", "text"),
    [
        ("vpc_id", "VPC id"),
        ("nat_gateway_id", "NAT gateway id"),
        ("role_arns", "Role ARNs"),
        ("saml_provider_arn", "SAML provider ARN"),
        ("account_id", "AWS account id"),
        ("id", "ID"),
    ],
)
def test_labels(key: str, text: str) -> None:
    assert label(key) == text


def test_outputs_as_fields_the_steps_own_id_first_and_empty_values_last() -> None:
    html = render(
        {"nat_gateway_id": None, "route_table_ids": ["rtb-1"], "cidr": "10.0.0.0/24", "vpc_id": "vpc-1"}, step="vpc"
    )

    assert [key for key in ("vpc_id", "cidr", "route_table_ids", "nat_gateway_id")] == sorted(
        ("vpc_id", "cidr", "route_table_ids", "nat_gateway_id"), key=lambda k: html.index(f'data-key="{k}"')
    )
    assert '<ul class="output-list"><li><code>rtb-1</code></li></ul>' in html
    assert '<dt>NAT gateway id</dt><dd><span class="quiet">none</span></dd>' in html


def test_outputs_deeper_than_a_table_are_shown_as_json() -> None:
    html = render({"policy": {"Statement": [{"Effect": "Allow"}]}})

    assert '<pre class="output-json">{\n  &quot;Statement&quot;' in html

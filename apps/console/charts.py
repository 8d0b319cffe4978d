"""The dashboard's charts: their data from the contexts' read models, drawn as inline SVG.

The operator network is closed (no CDN, no JavaScript chart library), so every chart is
rendered here on the server. Each data point is one SVG element carrying ``data-label``,
``data-series`` and ``data-value`` so the numbers can be read (and tested) from the markup.
Percentiles are computed in Python from the rows of the time window, which keeps them the
same on SQLite and PostgreSQL.
"""

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

# Outcomes of a request as the dashboard groups them; intake's accepted and provisioning
# requests are both still "in progress".
SUCCEEDED, FAILED, CANCELLED, IN_PROGRESS = "succeeded", "failed", "cancelled", "in progress"
OUTCOMES = (SUCCEEDED, FAILED, CANCELLED, IN_PROGRESS)

# The same palette as the stylesheet's status pills (static/console/console.css).
COLOURS: dict[str, str] = {
    SUCCEEDED: "#2e9d5b",
    FAILED: "#d6453d",
    CANCELLED: "#8a8f98",
    IN_PROGRESS: "#2f7fd1",
    "median": "#2f7fd1",
    "p95": "#e0902b",
    "failure rate": "#d6453d",
    "utilisation": "#6a4fc7",
}
CYCLE = ("#2f7fd1", "#2e9d5b", "#e0902b", "#6a4fc7", "#d6453d", "#1f9aa8", "#8a8f98")


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) of ``values`` by linear interpolation between the
    closest ranks (numpy's default); ``None`` for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Series:
    name: str
    values: tuple[float | None, ...]
    colour: str


@dataclass(frozen=True)
class Chart:
    """A bar chart: one bar per category and series (stacked or side by side)."""

    name: str
    title: str
    x_label: str
    y_label: str
    categories: tuple[str, ...]
    series: tuple[Series, ...]
    stacked: bool = False
    unit: str = ""
    y_max: float | None = None
    notes: tuple[str, ...] = field(default=())
    # Categories that exist only with data (pools, steps seen): 0 is a value, not "no data".
    zero_is_data: bool = False

    @property
    def empty(self) -> bool:
        if not self.categories:
            return True
        if self.zero_is_data:
            return all(v is None for s in self.series for v in s.values)
        return not any(v for s in self.series for v in s.values)


def window(*, now: datetime, days: int) -> tuple[datetime, list[date]]:
    """The start of the window (midnight, ``days - 1`` days before ``now``'s day) and its days."""
    first = now.date() - timedelta(days=days - 1)
    start = datetime.combine(first, datetime.min.time(), tzinfo=now.tzinfo)
    return start, [first + timedelta(days=n) for n in range(days)]


def _outcome(status: str) -> str:
    return status if status in (SUCCEEDED, FAILED, CANCELLED) else IN_PROGRESS


def requests_per_day(*, activity: Iterable[tuple[datetime, str]], days: Sequence[date]) -> Chart:
    """Requests created per day, stacked by outcome. ``activity``: (created_at, status)."""
    counts: dict[tuple[date, str], int] = defaultdict(int)
    for created_at, status in activity:
        counts[(created_at.date(), _outcome(status))] += 1
    return Chart(
        name="requests-per-day",
        title=f"Requests per day (last {len(days)} days)",
        x_label="Day requested",
        y_label="Requests",
        categories=tuple(day.isoformat() for day in days),
        series=tuple(
            Series(outcome, tuple(float(counts[(day, outcome)]) for day in days), COLOURS[outcome])
            for outcome in OUTCOMES
        ),
        stacked=True,
    )


def time_to_ready(*, durations: Iterable[tuple[datetime, float]], days: Sequence[date]) -> Chart:
    """Median and p95 minutes from request to finished run, per day the run finished.
    ``durations``: (finished_at, minutes)."""
    per_day: dict[date, list[float]] = defaultdict(list)
    for finished_at, minutes in durations:
        per_day[finished_at.date()].append(minutes)
    return Chart(
        name="time-to-ready",
        title="Time to ready (request → run finished)",
        x_label="Day finished",
        y_label="Minutes",
        categories=tuple(day.isoformat() for day in days),
        series=tuple(
            Series(name, tuple(_round(percentile(per_day[day], q)) for day in days), COLOURS[name])
            for name, q in (("median", 50), ("p95", 95))
        ),
        unit="min",
    )


def step_failure_rates(*, outcomes: Iterable[tuple[str, str]]) -> Chart:
    """Per step: failed ÷ finished, in percent. ``outcomes``: (step name, state)."""
    finished: dict[str, int] = defaultdict(int)
    failed: dict[str, int] = defaultdict(int)
    for name, state in outcomes:
        finished[name] += 1
        failed[name] += state == FAILED
    names = sorted(finished)
    return Chart(
        name="step-failure-rates",
        zero_is_data=True,
        title="Step failure rate",
        x_label="Step",
        y_label="Failed ÷ finished (%)",
        categories=tuple(names),
        series=(Series("failure rate", tuple(_round(100 * failed[n] / finished[n]) for n in names), COLOURS[FAILED]),),
        unit="%",
        y_max=100.0,
        notes=tuple(f"{n}: {failed[n]} of {finished[n]}" for n in names),
    )


def step_durations(*, durations: Iterable[tuple[str, float]]) -> Chart:
    """Per step: median and p95 seconds. ``durations``: (step name, seconds)."""
    per_step: dict[str, list[float]] = defaultdict(list)
    for name, seconds in durations:
        per_step[name].append(seconds)
    names = sorted(per_step)
    return Chart(
        name="step-durations",
        title="Step duration",
        x_label="Step",
        y_label="Seconds",
        categories=tuple(names),
        series=tuple(
            Series(label, tuple(_round(percentile(per_step[n], q)) for n in names), COLOURS[label])
            for label, q in (("median", 50), ("p95", 95))
        ),
        unit="s",
    )


def accounts_per_payer(*, counts: Iterable[tuple[str, str, int]]) -> Chart:
    """Managed accounts per payer, stacked by environment. ``counts``: (payer, env, n)."""
    table: dict[tuple[str, str], int] = {}
    for payer, environment, count in counts:
        table[(payer, environment or "none")] = table.get((payer, environment or "none"), 0) + count
    payers = sorted({p for p, _ in table})
    environments = sorted({e for _, e in table})
    return Chart(
        name="accounts-per-payer",
        title="Managed accounts per payer and environment",
        x_label="Payer",
        y_label="Accounts",
        categories=tuple(payers),
        series=tuple(
            Series(env, tuple(float(table.get((p, env), 0)) for p in payers), CYCLE[i % len(CYCLE)])
            for i, env in enumerate(environments)
        ),
        stacked=True,
    )


def pool_utilisation(*, pools: Iterable[tuple[str, int, int]]) -> Chart:
    """Per IP pool: allocated ÷ capacity, in percent. ``pools``: (label, allocated, capacity)."""
    rows = list(pools)
    return Chart(
        name="pool-utilisation",
        zero_is_data=True,
        title="IP pool utilisation",
        x_label="Pool",
        y_label="Allocated ÷ capacity (%)",
        categories=tuple(label for label, _, _ in rows),
        series=(
            Series(
                "utilisation",
                tuple(_round(100 * used / total) if total else 0.0 for _, used, total in rows),
                COLOURS["utilisation"],
            ),
        ),
        unit="%",
        y_max=100.0,
        notes=tuple(f"{label}: {used} of {total} addresses" for label, used, total in rows),
    )


def guardrails_in_place(*, readings: Iterable[tuple[str, bool]]) -> Chart:
    """Per guardrail setting: of the governed accounts' latest readings (each account,
    region by region), the share in place, in percent. ``readings``: (check, ok)."""
    totals: dict[str, list[int]] = {}
    for check, ok in readings:
        counted = totals.setdefault(check, [0, 0])
        counted[0] += int(ok)
        counted[1] += 1
    checks = sorted(totals)
    return Chart(
        name="guardrails-in-place",
        zero_is_data=True,
        title="Guardrails in place (latest compliance readings)",
        x_label="Guardrail",
        y_label="In place (%)",
        categories=tuple(checks),
        series=(
            Series(
                "in place",
                tuple(_round(100 * totals[c][0] / totals[c][1]) for c in checks),
                COLOURS[SUCCEEDED],
            ),
        ),
        unit="%",
        y_max=100.0,
        notes=tuple(f"{c}: {totals[c][0]} of {totals[c][1]} readings in place" for c in checks),
    )


def _round(value: float | None) -> float | None:
    """Two decimals, or two significant digits below 1 (a run of seconds is 0.0042 min, not 0)."""
    if value is None:
        return None
    return round(value, 2) if abs(value) >= 1 else float(f"{value:.2g}")


# --- drawing -------------------------------------------------------------------------

WIDTH, HEIGHT = 640, 300
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 40, 64


def _nice_max(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 x 10^n at or above ``value`` (a tidy top for the y axis)."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= value:
            return float(step * magnitude)
    return float(10 * magnitude)  # pragma: no cover - the loop always returns


def _number(value: float) -> str:
    return f"{value:g}"


def render(chart: Chart) -> SafeString:
    """The chart as ``<figure class="chart" data-chart=…>`` with an inline ``<svg>``, or an
    empty state when there is nothing to draw."""
    if chart.empty:
        return format_html(
            '<figure class="chart chart-empty" data-chart="{}"><figcaption>{}</figcaption>'
            '<p class="chart-empty-note">No data yet for this period.</p></figure>',
            chart.name,
            chart.title,
        )
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    totals = [
        sum(s.values[i] or 0 for s in chart.series) if chart.stacked else max((s.values[i] or 0) for s in chart.series)
        for i in range(len(chart.categories))
    ]
    top = chart.y_max if chart.y_max is not None else _nice_max(max(totals))

    def y(value: float) -> float:
        return TOP + plot_h - plot_h * value / top

    parts: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="chart-{chart.name}-title" class="chart-svg">',
        f'<title id="chart-{chart.name}-title">{escape(chart.title)}</title>',
    ]
    # Grid and y ticks.
    for tick in range(5):
        value = top * tick / 4
        ty = y(value)
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{ty:.1f}" y2="{ty:.1f}"/>')
        parts.append(
            f'<text class="tick" x="{LEFT - 6}" y="{ty + 4:.1f}" text-anchor="end">{_number(round(value, 2))}</text>'
        )
    # Bars.
    slot = plot_w / len(chart.categories)
    bar_w = slot * 0.8 if chart.stacked else slot * 0.8 / len(chart.series)
    label_every = max(1, math.ceil(len(chart.categories) / 12))
    for i, category in enumerate(chart.categories):
        x0 = LEFT + slot * i + slot * 0.1
        base = 0.0
        for j, series in enumerate(chart.series):
            raw = series.values[i]
            value = raw or 0.0
            x = x0 if chart.stacked else x0 + bar_w * j
            y_top = y(base + value)
            height = y(base) - y_top
            shown = "n/a" if raw is None else f"{_number(value)}{chart.unit and ' ' + chart.unit}"
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{y_top:.1f}" width="{max(bar_w - 1, 1):.1f}" '
                f'height="{height:.1f}" fill="{series.colour}" data-label="{escape(category)}" '
                f'data-series="{escape(series.name)}" data-value="{"" if raw is None else _number(value)}">'
                f"<title>{escape(category)} · {escape(series.name)}: {escape(shown)}</title></rect>"
            )
            if chart.stacked:
                base += value
        if i % label_every == 0:
            short = category[5:] if len(category) == 10 and category[4] == "-" else category
            short = short if len(short) <= 16 else short[:15] + "…"  # the notes give it in full
            lx, ly = LEFT + slot * (i + 0.5), TOP + plot_h + 14
            parts.append(
                f'<text class="tick" x="{lx:.1f}" y="{ly}" text-anchor="end" '
                f'transform="rotate(-35 {lx:.1f} {ly})">{escape(short)}</text>'
            )
    # Axes and their labels.
    parts.append(f'<line class="axis" x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{TOP + plot_h}"/>')
    parts.append(f'<line class="axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" y2="{TOP + plot_h}"/>')
    parts.append(
        f'<text class="axis-label" x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 6}" text-anchor="middle">'
        f"{escape(chart.x_label)}</text>"
    )
    parts.append(
        f'<text class="axis-label" x="14" y="{TOP + plot_h / 2:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 14 {TOP + plot_h / 2:.1f})">{escape(chart.y_label)}</text>'
    )
    # Legend, top right.
    parts.append('<g class="legend">')
    x = WIDTH - RIGHT
    for series in reversed(chart.series):
        x -= 12 + 7 * len(series.name) + 14
        parts.append(
            f'<rect x="{x:.0f}" y="10" width="10" height="10" fill="{series.colour}"/>'
            f'<text x="{x + 14:.0f}" y="19">{escape(series.name)}</text>'
        )
    parts.append("</g></svg>")
    notes = "".join(f"<li>{escape(note)}</li>" for note in chart.notes)
    return mark_safe(  # noqa: S308 - every value interpolated above is escaped
        f'<figure class="chart" data-chart="{escape(chart.name)}"><figcaption>{escape(chart.title)}</figcaption>'
        + "".join(parts)
        + (f'<ul class="chart-notes">{notes}</ul>' if notes else "")
        + "</figure>"
    )


def by_name(charts: Iterable[Chart]) -> Mapping[str, SafeString]:
    return {chart.name: render(chart) for chart in charts}

"""The operator dashboard in a real browser: with a request that went through the
workflow (and failed), every chart is drawn — an inline SVG with a size — for an operator
who logged in."""

from collections.abc import Callable
from pathlib import Path

from django.urls import reverse
from selenium.webdriver.common.by import By

from apps.workflow.models import Run
from tests.support.browser import Console

CHARTS = (
    "requests-per-day",
    "time-to-ready",
    "step-failure-rates",
    "step-durations",
    "accounts-per-payer",
    "pool-utilisation",
)


def test_the_dashboard_draws_every_chart(
    failed_request: tuple[str, Run], operator: Console, screenshot: Callable[..., Path]
) -> None:
    operator.open(reverse("admin:dashboard"))

    for name in CHARTS:
        figure = operator.visible(f"figure.chart[data-chart='{name}']")
        svg = figure.find_element(By.CSS_SELECTOR, "svg")
        assert svg.is_displayed(), name
        assert svg.size["width"] > 0, name
        assert svg.size["height"] > 0, name
        # An empty <svg> has a size too (300x150 by default): a drawn chart has marks in it.
        assert svg.find_elements(By.CSS_SELECTOR, "path, rect, circle, line, polyline, polygon, text"), name
    screenshot("dashboard")

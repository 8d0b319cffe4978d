"""The operator dashboard in a real browser: every chart is drawn (an inline SVG with a
size) once an operator has logged in."""

from collections.abc import Callable
from pathlib import Path

from django.urls import reverse
from selenium.webdriver.common.by import By

from tests.e2e.browser.conftest import Console

CHARTS = (
    "requests-per-day",
    "time-to-ready",
    "step-failure-rates",
    "step-durations",
    "accounts-per-payer",
    "pool-utilisation",
)


def test_the_dashboard_draws_every_chart(operator: Console, screenshot: Callable[..., Path]) -> None:
    operator.open(reverse("admin:dashboard"))

    for name in CHARTS:
        figure = operator.visible(f"figure.chart[data-chart='{name}']")
        svg = figure.find_element(By.CSS_SELECTOR, "svg")
        assert svg.is_displayed(), name
        assert svg.size["width"] > 0, name
        assert svg.size["height"] > 0, name
    screenshot("dashboard")

"""The operator dashboard in a real browser: with a request that went through the
workflow and failed, one that succeeded and an IP pool, every chart is drawn — an inline
SVG with a size and marks — for an operator who logged in."""

from collections.abc import Callable
from pathlib import Path

import pytest
from django.urls import reverse
from rest_framework.test import APIClient
from selenium.webdriver.common.by import By

from apps.clients import api as clients
from apps.network import api as network
from apps.workflow.models import Run
from tests.support.browser import Console
from tests.support.bus import drain
from tests.support.factories import request_body

CHARTS = (
    "requests-per-day",
    "time-to-ready",
    "step-failure-rates",
    "step-durations",
    "accounts-per-payer",
    "pool-utilisation",
)


@pytest.fixture
def succeeded_request(failed_request: tuple[str, Run]) -> str:
    """A second request, for another project, that went through without a fault."""
    client = APIClient()
    issued = clients.client_create(name="desk", scopes=["requests:write", "requests:read"], payers=["demo"])
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.token}")
    body = request_body()
    body["tags"] = {**body["tags"], "project_short_name": "ledger"}
    response = client.post("/v1/account-requests", body, format="json")
    assert response.status_code == 202, response.json()
    drain()
    request_id = str(response.json()["id"])
    assert client.get(f"/v1/account-requests/{request_id}").json()["status"] == "succeeded"
    return request_id


def test_the_dashboard_draws_every_chart(
    succeeded_request: str, operator: Console, laptop: Console, screenshot: Callable[..., Path]
) -> None:
    network.pool_create(payer="demo", region="us-east-1", cidr="10.64.0.0/16", name="demo us-east-1")

    operator.open(reverse("admin:dashboard"))

    for name in CHARTS:
        figure = operator.visible(f"figure.chart[data-chart='{name}']")
        assert figure.find_elements(By.CSS_SELECTOR, "svg"), f"{name}: {figure.text}"
        svg = figure.find_element(By.CSS_SELECTOR, "svg")
        assert svg.is_displayed(), name
        assert svg.size["width"] > 0, name
        assert svg.size["height"] > 0, name
        # An empty <svg> has a size too (300x150 by default): a drawn chart has marks in it.
        assert svg.find_elements(By.CSS_SELECTOR, "path, rect, circle, line, polyline, polygon, text"), name
    assert operator.sideways() == []
    screenshot("dashboard")

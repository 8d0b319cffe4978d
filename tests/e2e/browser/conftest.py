"""Fixtures of the operator console's browser tests: one headless Chromium for the
session, pytest-django's live server (a transactional database, static files served),
a superuser who logs in through the admin's form, and screenshots."""

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from apps.accounts import api as accounts
from apps.clients import api as clients
from apps.kernel import outbox
from apps.workflow.models import Run
from tasks.demo import seed_demo
from tests.conftest import EmulatedAws
from tests.support.browser import (
    LAPTOP,
    SCREENSHOTS,
    WAIT_SECONDS,
    WINDOW,
    BrowserMissing,
    Console,
    chromium,
    screenshots_wanted,
)
from tests.support.bus import drain
from tests.support.factories import request_body
from tests.support.faults import inject

OPERATOR = ("operator", "a-long-operator-password")


@pytest.fixture(scope="session")
def browser() -> Iterator[WebDriver]:
    try:
        with chromium() as driver:
            yield driver
    except BrowserMissing as missing:
        pytest.fail(str(missing), pytrace=False)


@pytest.fixture
def console(browser: WebDriver, live_server: Any) -> Console:
    return Console(browser, live_server.url)


@pytest.fixture
def laptop(browser: WebDriver, console: Console) -> Iterator[Console]:
    """The console on a 1366 x 768 laptop screen (the window as before afterwards)."""
    console.viewport(*LAPTOP)
    yield console
    browser.set_window_size(*WINDOW)


@pytest.fixture
def operator(transactional_db: None, console: Console) -> Console:
    """A superuser (made here), logged in through the admin's login form."""
    username, password = OPERATOR
    get_user_model().objects.create_superuser(username=username, email="ops@example.com", password=password)
    console.log_in(username, password)
    return console


@pytest.fixture
def screenshot(browser: WebDriver, tmp_path: Path) -> Callable[..., Path]:
    """``screenshot("run-timeline")``: the page as shown, into docs/screenshots/ when
    ``BESPOKE_SCREENSHOTS=1`` (``make screenshots``), else into the test's tmp_path."""

    def take(name: str, *, showing: str | None = None) -> Path:
        """``showing``: a CSS selector scrolled to the top of the window first."""
        if showing is not None:
            element = WebDriverWait(browser, WAIT_SECONDS).until(
                ec.visibility_of_element_located((By.CSS_SELECTOR, showing))
            )
            # "instant" scrolls before the call returns: nothing to wait for.
            browser.execute_script("arguments[0].scrollIntoView({block: 'start', behavior: 'instant'})", element)
        folder = SCREENSHOTS if screenshots_wanted() else tmp_path
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.png"
        assert browser.save_screenshot(str(path)), f"Chromium could not save {path}"
        assert path.stat().st_size > 0
        return path

    return take


@pytest.fixture(autouse=True)
def _outbox_kept() -> Iterator[None]:
    """Messages stay in the outbox after commit (no relay to a broker without workers):
    the test delivers them itself with ``drain()``, and what an admin action records is
    left there for the test to see."""
    outbox.set_publisher(None)
    yield
    from tasks.relay import publish_stored

    outbox.set_publisher(publish_stored)


@pytest.fixture
def failed_request(
    transactional_db: None, demo_payer: accounts.PayerSummary, aws: EmulatedAws, settings: Any
) -> tuple[str, Run]:
    """A request driven through the workflow whose run failed for real: the account is
    created, then Organizations reports its creation FAILED, so ``wait_account`` fails for
    good (and is dead-lettered). Returns the request's id and its run."""
    settings.ORGANIZATIONS_CREATE_ACCOUNT_BURST = 100
    settings.ORGANIZATIONS_STATUS_POLL_BURST = 100
    inject(settings, "organizations:DescribeCreateAccountStatus:failed=INTERNAL_FAILURE")
    client = APIClient()
    issued = clients.client_create(name="portal", scopes=list(clients.ALL_SCOPES), all_payers=True)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.token}")
    response = client.post("/v1/account-requests", request_body(), format="json")
    assert response.status_code == 202, response.json()
    request_id = str(response.json()["id"])

    drain()

    status = client.get(f"/v1/account-requests/{request_id}").json()
    assert status["status"] == "failed", status
    inject(settings, "")  # the fault is gone: what the operator does next can succeed
    return request_id, Run.objects.get(request_id=request_id)


@pytest.fixture
def vended(transactional_db: None, aws: EmulatedAws, tmp_path: Path) -> tuple[str, Run]:
    """A request vended for real with the demo payer's whole blueprint (``make run``'s
    seed): IAM roles, CloudTrail, Config, a VPC with public and private subnets, flow
    logs, DNS. Returns the request's id and its run."""
    seed = seed_demo(var_dir=tmp_path)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {seed.token}")
    response = client.post("/v1/account-requests", request_body(), format="json")
    assert response.status_code == 202, response.json()
    request_id = str(response.json()["id"])

    drain()

    status = client.get(f"/v1/account-requests/{request_id}").json()
    assert status["status"] == "succeeded", status
    return request_id, Run.objects.get(request_id=request_id)

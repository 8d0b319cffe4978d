"""The operator console on a 1366 x 768 laptop, in a real browser: no list and no page of
a run scrolls sideways (neither the page nor any scrolling box inside it), the admin's
navigation starts collapsed, a run's page has no form field and no Save, a view-only
operator is offered no button, and the search box finds a request by its AWS account id."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib import admin
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from apps.accounts.models import ManagedAccount
from apps.workflow.models import Run
from tests.console import rows
from tests.support.browser import Console
from tests.support.staff import PASSWORD, VIEWERS, staff_in

CHANGELISTS = sorted(f"/admin/{m._meta.app_label}/{m._meta.model_name}/" for m in admin.site._registry)


@pytest.fixture
def everything(transactional_db: None) -> dict[str, Any]:
    """A row of every model (most in a state their actions apply to) and a vended run with
    outputs. (Asked for before ``console``: the database is set up before the live server.)"""
    made = rows.every_model()
    made["vended"], made["vended_run"] = rows.vended_request("ledger", aws_account_id="444444444444")
    return made


def open_everything(console: Console) -> None:
    for details in console.driver.find_elements(By.CSS_SELECTOR, "details"):
        console.driver.execute_script("arguments[0].open = true", details)


def test_no_list_scrolls_sideways_and_the_navigation_starts_collapsed(
    everything: dict[str, Any], operator: Console, laptop: Console, screenshot: Callable[..., Path]
) -> None:
    operator.driver.execute_script("window.localStorage.clear()")  # a first visit
    scrolling: dict[str, list[str]] = {}

    for path in CHANGELISTS:
        operator.open(path)
        operator.visible("#changelist")
        if path == CHANGELISTS[0]:
            assert not operator.driver.find_element(By.ID, "nav-sidebar").is_displayed()
            assert "shifted" not in str(operator.driver.find_element(By.ID, "main").get_attribute("class"))
        if found := operator.sideways():
            scrolling[path] = found

    assert scrolling == {}
    operator.open("/admin/intake/accountrequest/")
    screenshot("request-list")


def test_no_page_of_a_run_a_request_a_command_or_an_account_scrolls_sideways(
    everything: dict[str, Any], operator: Console, laptop: Console
) -> None:
    account = ManagedAccount.objects.get(request_id=everything["vended"])
    pages = [
        f"/admin/runs/{everything['run'].pk}/",
        f"/admin/runs/{everything['vended_run'].pk}/",
        f"/admin/requests/{everything['awaiting']}/",
        f"/admin/commands/{everything['awaiting_command'].pk}/",
        f"/admin/managed-accounts/{account.pk}/",
        f"/admin/requests/{everything['awaiting']}/cancel/",
        "/admin/search/?q=444444444444",
        "/admin/dashboard/",
    ]
    scrolling: dict[str, list[str]] = {}

    for path in pages:
        operator.open(path)
        operator.visible("#content")
        open_everything(operator)
        if found := operator.sideways():
            scrolling[path] = found

    assert scrolling == {}


def test_a_vended_runs_page_fits_with_its_outputs_shown_and_nothing_to_edit(
    vended: tuple[str, Run], operator: Console, laptop: Console, screenshot: Callable[..., Path]
) -> None:
    _, run = vended

    operator.open(f"/admin/runs/{run.id}/")

    operator.visible("#timeline")
    vpc = operator.visible("#step-vpc")
    assert vpc.find_element(By.CSS_SELECTOR, ".output[data-key='vpc_id'] dd").text.startswith("vpc-")
    assert len(vpc.find_elements(By.CSS_SELECTOR, ".output[data-key='subnets'] tbody tr")) == 4
    iam = operator.visible("#step-iam")
    assert all(
        arn.text.startswith("arn:aws:iam::")
        for arn in iam.find_elements(By.CSS_SELECTOR, ".output[data-key='role_arns'] li code")
    )
    assert operator.driver.find_elements(By.CSS_SELECTOR, "#content input:not([type=hidden])") == []
    assert operator.driver.find_elements(By.CSS_SELECTOR, "#content select, #content textarea") == []
    assert operator.driver.find_elements(By.CSS_SELECTOR, "[name=_save], [name=_continue]") == []
    assert "Save" not in operator.visible("#content").text
    screenshot("run-page")
    screenshot("run-outputs", showing="#step-vpc")
    open_everything(operator)
    assert operator.sideways() == []


def test_a_view_only_operator_sees_no_action_buttons(everything: dict[str, Any], console: Console) -> None:
    staff_in(VIEWERS, "vera")
    console.log_in("vera", PASSWORD)
    account = ManagedAccount.objects.get(request_id=everything["vended"])

    for path in (
        f"/admin/runs/{everything['run'].pk}/",  # failed: an operator could retry it
        f"/admin/runs/{everything['vended_run'].pk}/",  # succeeded: an operator could reapply
        f"/admin/requests/{everything['awaiting']}/",  # awaiting approval
        f"/admin/commands/{everything['awaiting_command'].pk}/",
        f"/admin/managed-accounts/{account.pk}/",
    ):
        console.open(path)
        console.visible("#screen")
        assert console.driver.find_elements(By.CSS_SELECTOR, "#content .console-button") == [], path
        assert console.driver.find_elements(By.CSS_SELECTOR, "#content form") == [], path


def test_the_search_finds_a_request_by_its_aws_account_id(
    vended: tuple[str, Run], operator: Console, laptop: Console, screenshot: Callable[..., Path]
) -> None:
    request_id, run = vended
    aws_account_id = ManagedAccount.objects.get(request_id=request_id).aws_account_id

    box = operator.visible("#header .console-search input[name=q]")
    box.send_keys(aws_account_id, Keys.ENTER)

    hit = operator.visible(f".search-hit[data-kind='request'] a[href='/admin/requests/{request_id}/']")
    assert operator.visible(".search-hit[data-kind='run']").is_displayed()
    screenshot("search")
    hit.click()
    operator.visible("#screen")
    assert operator.driver.current_url.endswith(f"/admin/runs/{run.id}/")  # a request with a run: its run's page


def test_sideways_scrolling_is_seen_where_it_happens(operator: Console, laptop: Console) -> None:
    """The check above finds what it looks for: a box that scrolls, and a page too wide."""
    operator.open("/admin/")
    assert operator.sideways() == []

    operator.driver.execute_script(
        """
        const box = document.createElement("div");
        box.id = "narrow";
        Object.assign(box.style, {overflow: "auto", width: "100px"});
        const inside = document.createElement("div");
        inside.style.width = "500px";
        inside.textContent = "wide";
        box.append(inside);
        document.querySelector("#content").append(box);
        const wide = document.createElement("div");
        Object.assign(wide.style, {width: "3000px", height: "1px"});
        document.body.append(wide);
        """
    )

    found = operator.sideways()
    assert len(found) == 2, found
    assert found[0].startswith("the page: 30")
    assert found[1] == "div#narrow: 500 px wide in 100 px"

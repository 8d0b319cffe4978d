"""The operator console in a real browser, on a laptop's screen: an operator logs in
through the admin's form, reads a failed run's page (its request's and account's facts,
its timeline), retries it with the page's button, cancels a request after confirming why,
and redrives a dead letter — each against the live server, with a run that really failed."""

from collections.abc import Callable
from pathlib import Path

from django.utils.text import capfirst
from selenium.webdriver.common.by import By

from apps.intake.models import AccountRequest
from apps.kernel.models import DeadLetter
from apps.workflow.models import Run, StepRun
from tests.console import rows
from tests.support.browser import Console

# The timeline's state colours (apps/console/static/console/console.css).
SUCCEEDED_GREEN = "rgba(46, 157, 91, 1)"
FAILED_RED = "rgba(214, 69, 61, 1)"


def timeline_rows(console: Console) -> dict[str, dict[str, str]]:
    """Each timeline row: the step's state and, when it has a bar, the bar's colour."""
    found = {}
    for row in console.all_visible("table.console-timeline tbody tr"):
        name = row.find_element(By.CSS_SELECTOR, "td.step code").text
        bars = row.find_elements(By.CSS_SELECTOR, ".bar")
        found[name] = {
            "state": row.find_element(By.CSS_SELECTOR, "td.state").text,
            "colour": bars[0].value_of_css_property("background-color") if bars else "",
            "width": str(bars[0].size["width"]) if bars else "0",
            "started": row.find_elements(By.CSS_SELECTOR, "td.time")[0].text,
        }
    return found


def test_the_admin_index_lists_the_contexts_after_logging_in(
    operator: Console, laptop: Console, screenshot: Callable[..., Path]
) -> None:
    links = {link.get_attribute("pathname") for link in operator.all_visible("#content-main .module th a")}

    assert {"/admin/intake/accountrequest/", "/admin/workflow/run/", "/admin/kernel/deadletter/"} <= links, links
    stylesheet = operator.driver.execute_script(
        "return getComputedStyle(document.querySelector('#header')).backgroundColor"
    )
    assert stylesheet not in ("", "rgba(0, 0, 0, 0)"), "the admin's CSS was not served"
    screenshot("admin-index")


def test_a_failed_runs_page_shows_its_facts_and_its_steps_in_their_state_colours(
    failed_request: tuple[str, Run], operator: Console, laptop: Console, screenshot: Callable[..., Path]
) -> None:
    request_id, run = failed_request

    operator.open("/admin/workflow/run/")
    operator.visible(f"#result_list a[href*='{run.id}']").click()

    assert operator.driver.current_url.endswith(f"/admin/runs/{run.id}/")
    assert request_id in operator.visible("[data-card='request']").text
    assert operator.visible("#timeline h2").text.startswith("Timeline")
    steps = timeline_rows(operator)
    assert steps["create_account"]["state"] == "succeeded"
    assert steps["create_account"]["colour"] == SUCCEEDED_GREEN
    assert steps["wait_account"]["state"] == "failed"
    assert steps["wait_account"]["colour"] == FAILED_RED
    assert all(int(steps[step]["width"]) >= 3 for step in ("create_account", "wait_account"))
    assert all(len(step["started"]) == len("12:25:03") for step in steps.values())  # to the second, one line
    screenshot("run-timeline")


def test_retrying_a_failed_request_from_its_runs_page_puts_its_failed_step_back_to_work(
    failed_request: tuple[str, Run], operator: Console, laptop: Console, screenshot: Callable[..., Path]
) -> None:
    request_id, run = failed_request
    email = AccountRequest.objects.get(id=request_id).account_email

    operator.open(f"/admin/runs/{run.id}/")
    operator.visible(".screen-actions button.console-button").click()

    assert operator.messages() == [("success", capfirst(f"{email}: retrying from its failed steps."))]
    assert operator.driver.current_url.endswith(f"/admin/runs/{run.id}/")  # back on the page
    assert StepRun.objects.get(run=run, name="wait_account").state in {"pending", "running"}
    steps = timeline_rows(operator)
    assert steps["wait_account"]["state"] in {"pending", "running"}
    assert "failed" not in {step["state"] for step in steps.values()}  # the account's creation is redone too
    assert Run.objects.get(id=run.id).status == "running"
    screenshot("run-retried", showing="#timeline")


def test_cancelling_a_request_asks_why_first(transactional_db: None, operator: Console, laptop: Console) -> None:
    rows.payer()
    request_id = rows.request("cancelme")

    operator.open(f"/admin/requests/{request_id}/")
    operator.visible(".screen-actions a.console-button.danger").click()
    operator.visible("#reason").send_keys("the project was called off")
    operator.visible(".confirm-buttons button").click()

    shown = operator.messages()  # waits for the page the cancel answers with
    request = AccountRequest.objects.get(id=request_id)
    assert shown == [("success", capfirst(f"{request.account_email}: cancelled."))]
    assert request.status == "cancelled"
    assert request.failure == "cancelled: by operator in the console: the project was called off"


def test_redriving_a_dead_letter_from_the_admin_marks_it_redriven(
    failed_request: tuple[str, Run], operator: Console, laptop: Console, screenshot: Callable[..., Path]
) -> None:
    request_id, _ = failed_request
    [letter] = DeadLetter.objects.filter(state="open")
    assert (letter.handler, letter.message_type) == ("accounts.run_step", "RunStep")

    operator.open("/admin/kernel/deadletter/?state__exact=open")
    screenshot("dead-letters")
    operator.run_action("redrive", selected=[str(letter.pk)])

    assert operator.messages() == [
        ("info", f"RunStep → accounts.run_step: retried request {request_id} from its failed steps.")
    ]
    operator.open("/admin/kernel/deadletter/")
    [state] = operator.all_visible("#result_list td.field-state_pill .pill")
    assert state.get_attribute("data-status") == "redriven"
    letter.refresh_from_db()
    assert (letter.state, letter.resolved_by) == ("redriven", "admin:operator")

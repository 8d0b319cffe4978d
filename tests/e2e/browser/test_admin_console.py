"""The operator console in a real browser: an operator logs in through the admin's form,
reads a failed run's timeline, retries the request from its failed steps, and redrives a
dead letter — each against the live server, with a run that really failed."""

from collections.abc import Callable
from pathlib import Path

from django.utils.text import capfirst
from selenium.webdriver.common.by import By

from apps.intake.models import AccountRequest
from apps.kernel.models import DeadLetter
from apps.workflow.models import Run, StepRun
from tests.support.browser import Console

# The timeline's state colours (apps/workflow/templates/admin/workflow/run/change_form.html).
SUCCEEDED_GREEN = "rgba(46, 157, 91, 1)"
FAILED_RED = "rgba(214, 69, 61, 1)"


def timeline_rows(console: Console) -> dict[str, dict[str, str]]:
    """Each timeline row: the step's state and, when it has a bar, the bar's colour."""
    rows = {}
    for row in console.all_visible("table.bespoke-timeline tbody tr"):
        name = row.find_element(By.CSS_SELECTOR, "td code").text
        bars = row.find_elements(By.CSS_SELECTOR, ".bar")
        rows[name] = {
            "state": row.find_element(By.CSS_SELECTOR, "td.state").text,
            "colour": bars[0].value_of_css_property("background-color") if bars else "",
            "width": str(bars[0].size["width"]) if bars else "0",
        }
    return rows


def test_the_admin_index_lists_the_contexts_after_logging_in(
    operator: Console, screenshot: Callable[..., Path]
) -> None:
    links = {link.get_attribute("pathname") for link in operator.all_visible("#content-main .module th a")}

    assert {"/admin/intake/accountrequest/", "/admin/workflow/run/", "/admin/kernel/deadletter/"} <= links, links
    stylesheet = operator.driver.execute_script(
        "return getComputedStyle(document.querySelector('#header')).backgroundColor"
    )
    assert stylesheet not in ("", "rgba(0, 0, 0, 0)"), "the admin's CSS was not served"
    screenshot("admin-index")


def test_a_failed_runs_timeline_shows_its_steps_in_their_state_colours(
    failed_request: tuple[str, Run], operator: Console, screenshot: Callable[..., Path]
) -> None:
    _, run = failed_request

    operator.open("/admin/workflow/run/")
    operator.visible(f"#result_list a[href*='{run.id}']").click()

    heading = operator.visible("#timeline h2")
    assert heading.text.startswith("Timeline")
    rows = timeline_rows(operator)
    assert rows["create_account"]["state"] == "succeeded"
    assert rows["create_account"]["colour"] == SUCCEEDED_GREEN
    assert rows["wait_account"]["state"] == "failed"
    assert rows["wait_account"]["colour"] == FAILED_RED
    assert all(int(rows[step]["width"]) >= 3 for step in ("create_account", "wait_account"))
    screenshot("run-timeline", showing="#timeline")


def test_retrying_a_failed_request_from_the_changelist_puts_its_failed_step_back_to_work(
    failed_request: tuple[str, Run], operator: Console, screenshot: Callable[..., Path]
) -> None:
    request_id, run = failed_request
    email = AccountRequest.objects.get(id=request_id).account_email

    operator.open("/admin/intake/accountrequest/?status__exact=failed")
    screenshot("request-list")
    operator.run_action("retry", selected=[request_id])

    assert operator.messages() == [("info", capfirst(f"{email}: retrying from its failed steps."))]
    assert StepRun.objects.get(run=run, name="wait_account").state in {"pending", "running"}
    operator.open(f"/admin/workflow/run/{run.id}/change/")
    rows = timeline_rows(operator)
    assert rows["wait_account"]["state"] in {"pending", "running"}
    assert "failed" not in {row["state"] for row in rows.values()}  # the account's creation is redone too
    assert Run.objects.get(id=run.id).status == "running"
    screenshot("run-retried", showing="#timeline")


def test_redriving_a_dead_letter_from_the_admin_marks_it_redriven(
    failed_request: tuple[str, Run], operator: Console, screenshot: Callable[..., Path]
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

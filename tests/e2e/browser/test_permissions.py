"""Who may act, in a real browser: a viewer (the ``viewers`` group) reads the requests list
with no action dropdown and no row to tick; an operator (the ``operators`` group, not a
superuser) approves a request awaiting approval from the same list."""

import pytest
from django.utils.text import capfirst
from selenium.webdriver.common.by import By

from apps.intake.models import AccountRequest
from tests.console import rows
from tests.support.browser import Console
from tests.support.staff import OPERATORS, PASSWORD, VIEWERS, staff_in


@pytest.fixture
def awaiting(transactional_db: None) -> AccountRequest:
    """A regulated request to a payer that wants it approved first. (Asked for before
    ``console``: the test database is set up before the live server starts.)"""
    rows.payer()
    return AccountRequest.objects.get(id=rows.request("browser", regulated=True))


def test_a_viewer_reads_the_requests_but_is_offered_no_action(awaiting: AccountRequest, console: Console) -> None:
    staff_in(VIEWERS, "vera")
    console.log_in("vera", PASSWORD)

    console.open("/admin/intake/accountrequest/")

    listed = console.visible("#result_list").text
    assert awaiting.account_email in listed
    assert console.driver.find_elements(By.CSS_SELECTOR, "select[name=action]") == []
    assert console.driver.find_elements(By.CSS_SELECTOR, "input.action-select") == []


def test_an_operator_approves_a_request_from_the_list(awaiting: AccountRequest, console: Console) -> None:
    staff_in(OPERATORS, "otto")
    console.log_in("otto", PASSWORD)

    console.open("/admin/intake/accountrequest/?status__exact=awaiting_approval")
    console.run_action("approve", selected=[awaiting.id])

    assert console.messages() == [("info", capfirst(f"{awaiting.account_email}: approved; provisioning starts."))]
    awaiting.refresh_from_db()
    assert (awaiting.status, awaiting.approved_by) == ("accepted", "user:otto")

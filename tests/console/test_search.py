"""The console's search box finds a request, a run, an account or a command by any of its
ids (in full or their first characters), the AWS account id or the account email, with
what each leads to — and only among what the user may view."""

import re
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from apps.workflow.models import Run
from tests.console import rows
from tests.support.staff import VIEWERS, logged_in, staff_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def vended() -> tuple[str, Run]:
    rows.payer()
    return rows.vended_request("ledger", aws_account_id="555566667777")


@pytest.fixture
def viewer() -> Client:
    return logged_in(staff_in(VIEWERS))


def found(client: Client, term: str) -> dict[str, list[str]]:
    """kind -> the links of what the search found."""
    html = client.get("/admin/search/", {"q": term}).content.decode()
    hits: dict[str, list[str]] = {}
    for kind, link in re.findall(
        r'<tr class="search-hit" data-kind="(\w+)"><td class="hit-id"><a href="([^"]+)"', html
    ):
        hits.setdefault(kind, []).append(link)
    return hits


def test_a_request_is_found_by_its_aws_account_id(viewer: Client, vended: tuple[str, Run]) -> None:
    request_id, run = vended

    hits = found(viewer, "555566667777")

    assert hits["request"] == [f"/admin/requests/{request_id}/"]
    assert hits["run"] == [f"/admin/runs/{run.id}/"]
    assert len(hits["account"]) == 1


@pytest.mark.parametrize("which", ["request id", "short request id", "run id", "short run id", "email", "bespoke id"])
def test_every_id_and_the_email_find_the_request(viewer: Client, vended: tuple[str, Run], which: str) -> None:
    request_id, run = vended
    account = rows.ManagedAccount.objects.get(request_id=request_id)
    term = {
        "request id": request_id,
        "short request id": request_id[:8],
        "run id": run.id,
        "short run id": run.id[:8],
        "email": account.email.upper(),
        "bespoke id": account.id,
    }[which]

    hits = found(viewer, term)

    assert f"/admin/requests/{request_id}/" in hits["request"]
    assert f"/admin/runs/{run.id}/" in hits["run"]


def test_a_command_is_found_by_its_id() -> None:
    made: dict[str, Any] = rows.every_model()
    command = made["awaiting_command"]

    hits = found(logged_in(staff_in(VIEWERS)), command.id)

    assert hits == {"command": [f"/admin/commands/{command.id}/"]}


def test_a_request_awaiting_approval_is_found_by_its_email(viewer: Client) -> None:
    rows.payer()
    request_id = rows.request("waiting", regulated=True)

    hits = found(viewer, "waiting")

    assert hits == {"request": [f"/admin/requests/{request_id}/"]}


def test_too_little_finds_nothing_rather_than_everything(viewer: Client, vended: tuple[str, Run]) -> None:
    assert found(viewer, "55") == {}
    assert found(viewer, "") == {}
    assert "Nothing found" in viewer.get("/admin/search/", {"q": "no-such-thing"}).content.decode()


def test_the_search_looks_only_among_what_the_user_may_view(vended: tuple[str, Run]) -> None:
    _, run = vended
    runs_only = staff_in(VIEWERS, "runs-only")
    runs_only.groups.clear()
    runs_only.user_permissions.set(Permission.objects.filter(codename="view_run"))

    hits = found(logged_in(runs_only), "555566667777")
    by_run = found(logged_in(runs_only), run.id)

    assert hits == {}  # the AWS account id is the account's, which this user may not view
    assert by_run == {"run": [f"/admin/runs/{run.id}/"]}


def test_the_search_box_is_on_every_page(viewer: Client) -> None:
    for path in ("/admin/", "/admin/dashboard/", "/admin/intake/accountrequest/", "/admin/search/"):
        html = viewer.get(path).content.decode()
        assert '<form class="console-search" role="search" method="get" action="/admin/search/">' in html, path

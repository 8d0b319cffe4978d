"""The console's pages of one thing: a run reads like the status document (the request's and
account's facts, the timeline to the second, outputs as labelled fields), shows no form
field and no Save, and offers only the buttons the operator may press."""

import re

import pytest
from django.apps import apps
from django.contrib.auth.models import Permission
from django.test import Client

from apps.accounts.models import AccountCommand, ManagedAccount
from apps.audit.services import entry_record
from apps.workflow.models import Run
from tests.console import rows
from tests.support.staff import OPERATORS, VIEWERS, logged_in, staff_in

pytestmark = pytest.mark.django_db

# Any control a person could type into or pick from (hidden inputs carry the CSRF token).
EDITABLE = re.compile(r"<(?:select|textarea)\b|<input\b(?![^>]*type=\"hidden\")", re.I)


@pytest.fixture
def operator() -> Client:
    return logged_in(staff_in(OPERATORS))


@pytest.fixture
def viewer() -> Client:
    return logged_in(staff_in(VIEWERS))


@pytest.fixture
def vended() -> tuple[str, Run]:
    rows.payer()
    return rows.vended_request("ledger")


def content(html: str) -> str:
    """The page below the header (whose search box is on every page)."""
    return html[html.index('<main id="content-start"') :]


def buttons(html: str) -> list[str]:
    return re.findall(r'class="console-button[^"]*"[^>]*>([^<]+)<', content(html))


def test_a_runs_page_reads_like_the_status_document(admin_client: Client, vended: tuple[str, Run]) -> None:
    request_id, run = vended

    html = admin_client.get(f"/admin/runs/{run.id}/").content.decode()

    for card in ("request", "account", "run"):
        assert f'data-card="{card}"' in html
    assert request_id in html
    assert "222222222222" in html
    assert 'data-step="vpc"' in html
    assert re.search(r'<td class="time"><time class="at" datetime="[^"]+" title="[^"]+">\d\d:\d\d:\d\d</time>', html)
    assert "<dt>VPC id</dt><dd><code>vpc-0a1b2c3d4e5f</code></dd>" in html
    assert "<dt>CIDR</dt><dd><code>10.64.3.0/24</code></dd>" in html
    assert '<table class="output-table"><thead><tr><th>ID</th><th>AZ</th><th>CIDR</th><th>Tier</th>' in html
    assert '<span class="output-key">admin</span> <code>arn:aws:iam::222222222222:role/admin</code>' in html
    assert html.count('<details class="raw"><summary>Raw JSON</summary>') == 3  # each step with outputs


def test_a_runs_page_has_no_form_field_and_no_save(admin_client: Client, vended: tuple[str, Run]) -> None:
    _, run = vended

    html = content(admin_client.get(f"/admin/runs/{run.id}/").content.decode())

    assert not EDITABLE.search(html)
    assert 'name="_save"' not in html
    assert "Save" not in html


@pytest.mark.parametrize(
    "path",
    [
        "/admin/workflow/run/{run}/change/",
        "/admin/workflow/steprun/{step}/change/",
        "/admin/intake/accountrequest/{request}/change/",
    ],
)
def test_the_admins_change_pages_lead_to_the_consoles(admin_client: Client, vended: tuple[str, Run], path: str) -> None:
    request_id, run = vended
    step = run.steps.get(name="vpc")

    page = admin_client.get(path.format(run=run.id, step=step.pk, request=request_id), follow=True)

    assert page.redirect_chain[-1][0].startswith(f"/admin/runs/{run.id}/")
    assert "Save" not in content(page.content.decode())


@pytest.mark.parametrize(
    "model", ["workflow/run", "workflow/steprun", "kernel/outboxmessage", "kernel/deadletter", "audit/auditentry"]
)
def test_history_is_not_editable_even_by_a_superuser(admin_client: Client, model: str) -> None:
    rows.every_model()  # a failed run, outbox messages, a dead letter
    entry_record(actor_type="client", actor="portal", action="POST v1:account-request-collection", status_code=202)
    app_label, name = model.split("/")
    row = apps.get_model(app_label, name)._default_manager.first()
    assert row is not None

    page = admin_client.get(f"/admin/{model}/{row.pk}/change/", follow=True)

    assert page.status_code == 200
    html = content(page.content.decode())
    assert not EDITABLE.search(html)
    assert 'name="_save"' not in html
    assert "deletelink" not in html


def test_deliveries_are_read_only_and_keep_their_action(admin_client: Client) -> None:
    delivery = rows.failed_delivery()

    page = content(admin_client.get(f"/admin/notifications/webhookdelivery/{delivery.pk}/change/").content.decode())
    listing = admin_client.get("/admin/notifications/webhookdelivery/").content.decode()

    assert not EDITABLE.search(page)
    assert 'name="_save"' not in page
    assert '<option value="redeliver"' in listing
    assert '<option value="delete_selected"' not in listing


def test_a_viewer_sees_the_page_and_no_button(viewer: Client, vended: tuple[str, Run]) -> None:
    _, failed_run = rows.failed_request("broken")
    _, vended_run = vended

    for run in (failed_run, vended_run):
        html = viewer.get(f"/admin/runs/{run.id}/").content.decode()
        assert 'data-card="request"' in html
        assert buttons(html) == []
        assert "<form" not in content(html)


def test_an_operator_is_offered_what_applies_to_the_run(operator: Client, vended: tuple[str, Run]) -> None:
    _, failed_run = rows.failed_request("broken")
    _, vended_run = vended

    failed = operator.get(f"/admin/runs/{failed_run.id}/").content.decode()
    succeeded = operator.get(f"/admin/runs/{vended_run.id}/").content.decode()

    assert buttons(failed) == ["Retry from the failed steps"]
    # The succeeded run: the account's baseline, and each of its baseline and network steps.
    assert buttons(succeeded) == ["Reapply baseline", "Reapply vpc", "Reapply iam"]
    assert re.findall(r'name="step" value="(\w+)"', succeeded) == ["vpc", "iam"]


def test_a_request_awaiting_approval_has_a_page_of_its_own(operator: Client) -> None:
    rows.payer()
    request_id = rows.request("regulated", regulated=True)

    html = operator.get(f"/admin/requests/{request_id}/").content.decode()

    assert "provisioning starts when an operator approves the request" in html
    assert buttons(html) == ["Approve", "Reject…", "Cancel…"]
    assert f'href="/admin/requests/{request_id}/reject/?next=' in html  # destructive: its confirmation first


def test_a_command_awaiting_approval_has_a_page_with_its_decision(operator: Client) -> None:
    made = rows.every_model()
    command: AccountCommand = made["awaiting_command"]

    html = operator.get(f"/admin/accounts/accountcommand/{command.pk}/change/", follow=True).content.decode()

    assert 'data-card="command"' in html
    assert 'data-card="account"' in html
    assert buttons(html) == ["Approve…", "Reject…"]


def test_an_accounts_page_lists_its_commands_and_its_vend(operator: Client, vended: tuple[str, Run]) -> None:
    request_id, run = vended
    account = ManagedAccount.objects.get(request_id=request_id)
    AccountCommand.objects.create(
        id="cmd-1", account=account, command="reapply", status="succeeded", created_at=run.started_at
    )

    html = operator.get(f"/admin/accounts/managedaccount/{account.pk}/change/", follow=True).content.decode()

    assert 'data-card="account"' in html
    assert 'data-card="request"' in html
    assert f'href="/admin/runs/{run.id}/"' in html
    assert 'href="/admin/commands/cmd-1/"' in html
    assert buttons(html) == ["Reapply baseline"]


def test_pages_of_things_that_do_not_exist_answer_404(admin_client: Client) -> None:
    for path in ("runs", "requests", "commands", "managed-accounts"):
        assert admin_client.get(f"/admin/{path}/nothing-here/").status_code == 404


def test_staff_who_may_not_view_runs_are_refused_their_pages(vended: tuple[str, Run]) -> None:
    _, run = vended
    nobody = staff_in(VIEWERS, "nobody")
    nobody.groups.clear()

    assert logged_in(nobody).get(f"/admin/runs/{run.id}/").status_code == 403
    assert Client().get(f"/admin/runs/{run.id}/").status_code == 302  # to the login page


def test_a_step_runs_page_is_refused_to_staff_who_may_not_view_step_runs(vended: tuple[str, Run]) -> None:
    _, run = vended
    runs_only = staff_in(VIEWERS, "runs-only")
    runs_only.groups.clear()
    runs_only.user_permissions.set(Permission.objects.filter(codename="view_run"))
    step = run.steps.get(name="vpc")

    assert logged_in(runs_only).get(f"/admin/workflow/steprun/{step.pk}/change/").status_code == 403

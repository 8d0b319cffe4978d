"""An operator's changes in the admin are recorded row by row; bulk actions by name and
the ids they were applied to; a login never by its password."""

import json

import pytest
from django.contrib.auth.models import User
from django.test import Client

from apps.accounts import api as accounts
from apps.accounts.models import Payer
from apps.audit.models import AuditEntry
from tests.support import factories

pytestmark = pytest.mark.django_db


def payer_form(payer: Payer, **changes: object) -> dict[str, object]:
    form: dict[str, object] = {
        "name": payer.name,
        "display_name": payer.display_name,
        "management_account_id": payer.management_account_id,
        "management_role_arn": payer.management_role_arn,
        "member_role_name": payer.member_role_name,
        "email_division": payer.email_division,
        "email_domain": payer.email_domain,
        "allowed_environments": json.dumps(payer.allowed_environments),
        "allowed_regions": json.dumps(payer.allowed_regions),
        "parent_ou_id": payer.parent_ou_id,
        "log_archive_bucket": payer.log_archive_bucket,
        "saml_provider_name": payer.saml_provider_name,
        "saml_metadata_document": payer.saml_metadata_document,
        "dns_domain": payer.dns_domain,
        "closures_per_30_days": payer.closures_per_30_days,
        "active": "on" if payer.active else "",
    }
    form.update(changes)
    return {key: value for key, value in form.items() if value is not None and value != ""}


def test_a_payer_change_records_the_changed_fields_before_and_after(
    admin_client: Client, admin_user: User, payer: accounts.PayerSummary
) -> None:
    row = Payer.objects.get(name="demo")

    answer = admin_client.post(
        f"/admin/accounts/payer/{row.pk}/change/",
        payer_form(row, display_name="Demo payer", allowed_regions=json.dumps(["us-east-1"])),
        REMOTE_ADDR="192.0.2.44",
    )

    assert answer.status_code == 302, answer.content.decode()[:2000]
    [entry] = AuditEntry.objects.filter(action="admin:accounts.payer:change")
    assert (entry.actor_type, entry.actor) == ("operator", admin_user.username)
    assert (entry.target_type, entry.target_id) == ("accounts.payer", str(row.pk))
    assert (entry.status_code, entry.source_ip) == (302, "192.0.2.44")
    assert entry.after == [
        {
            "model": "accounts.payer",
            "pk": str(row.pk),
            "before": {"display_name": "", "allowed_regions": ["us-east-1", "us-west-2"]},
            "after": {"display_name": "Demo payer", "allowed_regions": ["us-east-1"]},
        }
    ]


def test_a_rejected_admin_form_is_recorded_with_no_changes(admin_client: Client, payer: accounts.PayerSummary) -> None:
    row = Payer.objects.get(name="demo")

    answer = admin_client.post(f"/admin/accounts/payer/{row.pk}/change/", payer_form(row, management_account_id="x"))

    assert answer.status_code == 200  # the form again, with its errors
    [entry] = AuditEntry.objects.filter(action="admin:accounts.payer:change")
    assert (entry.status_code, entry.after) == (200, None)
    assert Payer.objects.get(pk=row.pk).management_account_id == "111111111111"


def test_a_bulk_action_records_its_name_and_the_selected_ids(
    admin_client: Client, payer: accounts.PayerSummary
) -> None:
    factories.payer(
        "other", management_account_id="222222222222", allowed_environments=["dev"], allowed_regions=["us-east-1"]
    )
    ids = [str(pk) for pk in Payer.objects.order_by("name").values_list("pk", flat=True)]

    answer = admin_client.post(
        "/admin/accounts/payer/", {"action": "delete_selected", "_selected_action": ids, "post": "yes"}
    )

    assert answer.status_code == 302
    assert not Payer.objects.exists()
    [entry] = AuditEntry.objects.filter(action="admin:accounts.payer:delete_selected")
    assert entry.before == {"action": "delete_selected", "selected_ids": ids}
    assert entry.target_id == ",".join(ids)
    deleted = {change["pk"]: change for change in entry.after if change["model"] == "accounts.payer"}
    assert set(deleted) == set(ids)
    assert all(change["after"] is None and change["before"]["name"] for change in deleted.values())


def test_an_admin_login_is_recorded_without_the_password(admin_user: User) -> None:
    browser = Client()

    answer = browser.post("/admin/login/", {"username": admin_user.username, "password": "password"})
    failed = Client().post("/admin/login/", {"username": "mallory", "password": "hunter2-guess"})

    assert (answer.status_code, failed.status_code) == (302, 200)
    ok, bad = AuditEntry.objects.filter(action="admin:login").order_by("at", "status_code")
    assert (ok.actor, ok.status_code, ok.before) == (admin_user.username, 302, {"username": admin_user.username})
    assert (bad.actor, bad.status_code, bad.before) == ("mallory", 200, {"username": "mallory"})
    stored = json.dumps([[e.before, e.after] for e in (ok, bad)])
    assert "hunter2-guess" not in stored
    assert admin_user.password not in stored  # the hash either


def test_a_logout_is_recorded_against_who_logged_out(admin_client: Client, admin_user: User) -> None:
    answer = admin_client.post("/admin/logout/")

    assert answer.status_code == 200
    [entry] = AuditEntry.objects.filter(action="admin:logout")
    assert (entry.actor_type, entry.actor) == ("operator", admin_user.username)

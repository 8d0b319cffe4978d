"""Nobody edits history: not through the admin (superusers included), not through SQL."""

import pytest
from django.contrib.auth.models import User
from django.db import DatabaseError, connection, transaction
from django.test import Client

from apps.audit.models import AuditEntry
from apps.audit.services import entry_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def entry(db: None) -> AuditEntry:
    return entry_record(actor_type="client", actor="portal (c1)", action="POST v1:token-collection", status_code=201)


def test_the_admin_offers_no_add_change_or_delete_even_to_a_superuser(
    admin_client: Client, admin_user: User, entry: AuditEntry
) -> None:
    assert admin_user.is_superuser

    listing = admin_client.get("/admin/audit/auditentry/")
    detail = admin_client.get(f"/admin/audit/auditentry/{entry.pk}/change/")

    assert listing.status_code == 200
    assert "portal (c1)" in listing.content.decode()
    assert detail.status_code == 200  # view-only
    page = detail.content.decode()
    assert 'name="_save"' not in page
    assert "deletelink" not in page
    assert "/admin/audit/auditentry/add/" not in listing.content.decode()
    assert admin_client.get("/admin/audit/auditentry/add/").status_code == 403
    assert admin_client.post(f"/admin/audit/auditentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    admin_client.post(f"/admin/audit/auditentry/{entry.pk}/change/", {"actor": "someone else"})
    assert admin_client.post(
        "/admin/audit/auditentry/", {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"}
    ).status_code in (200, 302)
    assert AuditEntry.objects.get(pk=entry.pk).actor == "portal (c1)"


def test_the_admin_lists_with_filters_and_search(admin_client: Client, entry: AuditEntry) -> None:
    entry_record(actor_type="operator", actor="alice", action="admin:accounts.payer:change", target_id="7")

    by_type = admin_client.get("/admin/audit/auditentry/", {"actor_type": "operator"}).content.decode()
    searched = admin_client.get("/admin/audit/auditentry/", {"q": "portal"}).content.decode()

    assert "alice" in by_type
    assert "portal (c1)" not in by_type
    assert "portal (c1)" in searched
    assert "alice" not in searched


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger is PostgreSQL's")
def test_postgresql_rejects_update_and_delete_of_an_entry(entry: AuditEntry) -> None:
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEntry.objects.filter(pk=entry.pk).update(actor="someone else")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEntry.objects.filter(pk=entry.pk).delete()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditentry")

    assert AuditEntry.objects.get(pk=entry.pk).actor == "portal (c1)"

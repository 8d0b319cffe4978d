"""An accepted request costs its durable write and little else: the request, its outbox
row and its audit entry are written in one transaction and one commit; the token, the
payer and its blueprints come from the process's caches; the relay to the broker runs
after the answer (tests/kernel/test_outbox_background.py)."""

from collections.abc import Callable
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient
from structlog.testing import capture_logs

from apps.audit import middleware
from apps.audit.models import AuditEntry
from apps.intake.models import AccountRequest
from apps.intake.rest import views
from apps.kernel.errors import Conflict
from apps.kernel.models import OutboxMessage
from tests.support.factories import request_body

URL = "/v1/account-requests"


def post(api: APIClient, short_name: str) -> Any:
    return api.post(URL, request_body(tags__project_short_name=short_name), format="json")


@pytest.mark.django_db
def test_an_accepted_post_makes_at_most_a_dozen_queries(
    api: APIClient, payer: Any, django_assert_max_num_queries: Any
) -> None:
    assert post(api, "warm").status_code == 202  # the token and the payer are cached now

    # The request and outbox inserts, the audit insert, and the savepoints around them.
    with django_assert_max_num_queries(12):
        assert post(api, "second").status_code == 202


@pytest.mark.django_db
def test_the_token_and_the_payer_are_read_once_for_many_requests(api: APIClient, payer: Any) -> None:
    with CaptureQueriesContext(connection) as queries:
        for n in range(3):
            assert post(api, f"p{n}").status_code == 202

    reads = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT")]
    assert sum('FROM "clients_apitoken"' in sql for sql in reads) == 1
    assert sum('FROM "accounts_payer"' in sql for sql in reads) == 1
    assert sum('FROM "accounts_blueprint"' in sql for sql in reads) == 1


@pytest.mark.django_db
def test_every_accepted_request_has_its_audit_entry(api: APIClient, payer: Any) -> None:
    ids = [post(api, f"a{n}").json()["id"] for n in range(3)]

    entries = AuditEntry.objects.filter(action="POST v1:account-request-collection")
    assert sorted(entry.target_id for entry in entries) == sorted(ids)
    assert {entry.status_code for entry in entries} == {202}


@pytest.mark.django_db(transaction=True)
def test_the_request_its_event_and_its_audit_entry_commit_together(api: APIClient, payer: Any) -> None:
    with CaptureQueriesContext(connection) as queries:
        request_id = post(api, "together").json()["id"]

    # (What follows the commit is the relay's, in this thread in the tests' settings.)
    statements = [q["sql"] for q in queries.captured_queries]
    commit = statements.index("COMMIT")
    tables = [sql.split('"')[1] for sql in statements if sql.startswith("INSERT")]
    tables_before_commit = [sql.split('"')[1] for sql in statements[:commit] if sql.startswith("INSERT")]
    assert tables == tables_before_commit == ["intake_accountrequest", "kernel_outboxmessage", "audit_auditentry"]
    assert AccountRequest.objects.filter(id=request_id).exists()
    assert OutboxMessage.objects.filter(aggregate_id=request_id).exists()
    assert AuditEntry.objects.filter(target_id=request_id, status_code=202).exists()


@pytest.mark.django_db(transaction=True)
def test_a_failed_audit_write_does_not_undo_the_accepted_request(
    api: APIClient, payer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(**_: Any) -> None:
        with transaction.atomic():  # as entry_record: its own savepoint
            raise DatabaseError("audit table unavailable")

    monkeypatch.setattr(middleware, "entry_record", broken)

    with capture_logs() as logs:
        answer = post(api, "kept")

    assert answer.status_code == 202
    assert AccountRequest.objects.filter(id=answer.json()["id"]).exists()
    assert OutboxMessage.objects.filter(aggregate_id=answer.json()["id"]).exists()
    assert [line["event"] for line in logs if line["event"] == "audit.write_failed"] == ["audit.write_failed"]


@pytest.mark.django_db(transaction=True)
def test_a_call_whose_transaction_rolls_back_is_audited_on_its_own(
    make_api_client: Callable[..., APIClient], payer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def rolled_back(**_: Any) -> None:
        AccountRequest.objects.all().delete()
        transaction.set_rollback(True)
        raise Conflict("Refused after a write that must not stay.")

    monkeypatch.setattr(views, "request_submit", rolled_back)

    answer = post(make_api_client(), "refused")

    assert answer.status_code == 409
    [entry] = AuditEntry.objects.filter(action="POST v1:account-request-collection")
    assert entry.status_code == 409

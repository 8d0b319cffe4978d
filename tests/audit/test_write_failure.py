"""When the audit entry cannot be written the call still answers as it would have — the
change is already made, and a 500 would invite a duplicate retry — and the failure is
logged at error level with what the entry would have said."""

from collections.abc import Callable
from typing import Any

import pytest
from django.db import DatabaseError
from rest_framework.test import APIClient
from structlog.testing import capture_logs

from apps.audit import middleware
from apps.audit.models import AuditEntry
from apps.clients.contracts import REQUESTS_READ

pytestmark = pytest.mark.django_db


def test_a_failed_audit_write_is_logged_loudly_and_the_answer_stands(
    make_api_client: Callable[..., APIClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(**_: Any) -> None:
        raise DatabaseError("audit table unavailable")

    monkeypatch.setattr(middleware, "entry_record", broken)

    with capture_logs() as logs:
        answer = make_api_client(REQUESTS_READ).post("/v1/tokens", format="json")

    assert answer.status_code == 201
    [failure] = [line for line in logs if line["event"] == "audit.write_failed"]
    assert failure["log_level"] == "error"
    assert (failure["action"], failure["status_code"]) == ("POST v1:token-collection", 201)
    assert not AuditEntry.objects.exists()

"""Every state-changing API call leaves an entry — who, what, from where, the outcome —
with secrets redacted; reads leave none."""

import json
from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.accounts import api as accounts
from apps.audit.models import AuditEntry
from apps.clients import api as clients
from apps.clients.contracts import REQUESTS_READ, REQUESTS_WRITE
from tests.support.factories import request_body

pytestmark = pytest.mark.django_db


def client_with(*scopes: str, name: str = "portal") -> tuple[APIClient, clients.IssuedToken]:
    issued = clients.client_create(name=name, scopes=list(scopes), payers=["demo"])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.token}")
    return api, issued


def test_a_post_is_recorded_with_client_route_ip_status_and_redacted_secrets(
    payer: accounts.PayerSummary,
) -> None:
    api, issued = client_with(REQUESTS_WRITE, REQUESTS_READ)
    body = request_body(comment="please")

    response = api.post(
        "/v1/account-requests",
        body,
        format="json",
        HTTP_USER_AGENT="portal/2.1",
        HTTP_X_REQUEST_ID="req-123",
        REMOTE_ADDR="203.0.113.9",
    )

    assert response.status_code == 202
    [entry] = AuditEntry.objects.all()
    assert entry.actor_type == "client"
    assert entry.actor == f"portal ({issued.client_id})"
    assert entry.action == "POST v1:account-request-collection"
    assert (entry.target_type, entry.target_id) == ("account-request", response.json()["id"])
    assert (entry.source_ip, entry.user_agent, entry.request_id) == ("203.0.113.9", "portal/2.1", "req-123")
    assert entry.status_code == 202
    assert entry.before == body
    assert entry.after == response.json()
    assert issued.token not in json.dumps([entry.before, entry.after])


def test_a_rejected_post_is_recorded_too_with_secrets_redacted_at_any_depth(payer: accounts.PayerSummary) -> None:
    api, _ = client_with(REQUESTS_WRITE)
    body = request_body(region="mars-1")
    body["access_token"] = "tok-do-not-store"
    body["requestor"]["Password"] = "pw-do-not-store"
    body["vpc"]["peers"] = [{"client_secret": "sec-do-not-store", "name": "hub"}]

    response = api.post("/v1/account-requests", body, format="json")

    assert response.status_code == 400
    [entry] = AuditEntry.objects.all()
    assert (entry.action, entry.status_code) == ("POST v1:account-request-collection", 400)
    assert entry.after["code"] == "validation_error"
    assert entry.before["region"] == "mars-1"
    assert entry.before["access_token"] == "[redacted]"
    assert entry.before["requestor"]["Password"] == "[redacted]"
    assert entry.before["vpc"]["peers"] == [{"client_secret": "[redacted]", "name": "hub"}]
    assert "do-not-store" not in json.dumps([entry.before, entry.after])


def test_an_unauthenticated_post_is_recorded_as_anonymous(db: None) -> None:
    response = APIClient().post(
        "/v1/account-requests", {"x": 1}, format="json", HTTP_AUTHORIZATION="Bearer bsk_nope_nope"
    )

    assert response.status_code == 401
    [entry] = AuditEntry.objects.all()
    assert (entry.actor_type, entry.actor, entry.status_code) == ("client", "anonymous", 401)
    assert "bsk_nope_nope" not in json.dumps([entry.before, entry.after])


def test_reads_are_not_recorded(make_api_client: Callable[..., APIClient]) -> None:
    api = make_api_client(REQUESTS_READ)

    assert api.get("/v1/account-requests").status_code == 200
    assert api.get("/v1/tokens").status_code == 200
    assert not AuditEntry.objects.exists()


def test_an_issued_token_never_reaches_the_log(db: None) -> None:
    api, issued = client_with(REQUESTS_READ)

    issued_again = api.post("/v1/tokens", format="json")
    rotated = api.post("/v1/tokens/rotate", format="json")

    assert (issued_again.status_code, rotated.status_code) == (201, 201)
    secrets = {issued.token, issued_again.json()["token"], rotated.json()["token"]}
    entries = list(AuditEntry.objects.order_by("at"))
    assert [e.action for e in entries] == ["POST v1:token-collection", "POST v1:token-rotate"]
    assert all(e.after["token"] == "[redacted]" for e in entries)
    stored = json.dumps([[e.before, e.after, e.user_agent, e.actor] for e in entries])
    assert not any(secret in stored for secret in secrets)
    assert not any(secret.split("_", 2)[2] in stored for secret in secrets)


def test_a_legacy_facade_post_is_recorded(payer: accounts.PayerSummary) -> None:
    api, issued = client_with(REQUESTS_WRITE)

    response = api.post("/accounts", {"payer": "demo"}, format="json")

    assert response.status_code == 400
    [entry] = AuditEntry.objects.all()
    assert entry.action == "POST legacy-accounts"
    assert entry.actor == f"portal ({issued.client_id})"
    assert entry.status_code == 400


@pytest.mark.parametrize(
    ("remote", "forwarded", "expected"),
    [
        ("198.51.100.7", "203.0.113.50", "198.51.100.7"),  # not our proxy: the header is ignored
        ("10.0.0.2", "203.0.113.50", "203.0.113.50"),
        ("10.0.0.2", "6.6.6.6, 203.0.113.50, 10.0.0.3", "203.0.113.50"),  # nearest untrusted hop
    ],
)
def test_forwarded_for_is_believed_only_from_trusted_proxies(
    db: None, settings: Any, remote: str, forwarded: str, expected: str
) -> None:
    settings.AUDIT_TRUSTED_PROXIES = ["10.0.0.0/8"]
    api, _ = client_with(REQUESTS_READ)

    api.post("/v1/tokens", format="json", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)

    assert AuditEntry.objects.get().source_ip == expected

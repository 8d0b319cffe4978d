"""Property-based fuzzing of every documented operation, in process (WSGI), with a token
carrying every scope: no answer is a 5xx, and every answer is what the schema says
(status code, content type, body).

The app runs inside the test's transaction: nothing commits, so the outbox's on-commit
relay never fires and no broker is needed (the test settings' broker is ``memory://``).
"""

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from apps.accounts import api as accounts
from apps.clients import api as clients

app = get_wsgi_application()
schema = schemathesis.openapi.from_wsgi("/v1/schema?format=json", app)

_names = itertools.count()
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
pytestmark = pytest.mark.django_db


@pytest.fixture
def in_transaction() -> Iterator[None]:
    """Keep the test's connection (and its rolled-back transaction) across WSGI requests,
    as Django's test client does: the handler would otherwise close it after each one."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    try:
        yield
    finally:
        for signal in (request_started, request_finished):
            signal.connect(close_old_connections)


@pytest.fixture
def token(in_transaction: None) -> str:
    """A full-scope token, with the payer ``demo`` in place so valid requests get through."""
    accounts.payer_upsert(
        name="demo",
        management_account_id="111111111111",
        email_division="demo",
        email_domain="example.com",
        allowed_environments=["dev", "tst", "stg", "prd"],
        allowed_regions=["us-east-1", "us-west-2"],
    )
    return _fresh_token()


def _fresh_token() -> str:
    return clients.client_create(name=f"fuzzer-{next(_names)}", scopes=list(clients.ALL_SCOPES)).token


@schema.parametrize()
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
)
def test_every_operation_answers_as_documented_and_never_5xx(case: Any, token: str) -> None:
    # Token management can revoke the token in use: those calls each get their own.
    bearer = _fresh_token() if case.path.startswith("/v1/tokens") else token
    case.call_and_validate(headers={"Authorization": f"Bearer {bearer}"}, checks=CHECKS)


def test_a_real_requests_life_answers_as_documented(token: str) -> None:
    """The documented example, end to end: each answer (plan, 202, list, status, cancel,
    the legacy status) is checked against the schema, as fuzzing rarely builds a valid body."""
    auth = {"Authorization": f"Bearer {token}"}
    create = schema["/v1/account-requests"]["POST"]
    media = create.definition.raw["requestBody"]["content"]["application/json"]
    body = next(iter(media["examples"].values()))["value"]

    plan = create.Case(body=body, query={"dry_run": "true"}).call_and_validate(headers=auth, checks=CHECKS)
    accepted = create.Case(body=body).call_and_validate(headers=auth, checks=CHECKS)
    request_id = accepted.json()["id"]
    listing = (
        schema["/v1/account-requests"]["GET"].Case(query={"limit": 5}).call_and_validate(headers=auth, checks=CHECKS)
    )
    detail = schema["/v1/account-requests/{request_id}"]["GET"].Case(path_parameters={"request_id": request_id})
    legacy = schema["/requeststatus/{request_id}"]["GET"].Case(path_parameters={"request_id": request_id})
    cancel = schema["/v1/account-requests/{request_id}/cancel"]["POST"].Case(
        path_parameters={"request_id": request_id}, body={"reason": "no longer needed"}
    )

    assert plan.status_code == 200
    assert plan.json()["dry_run"] is True
    assert accepted.status_code == 202
    assert [item["id"] for item in listing.json()["results"]] == [request_id]
    assert detail.call_and_validate(headers=auth, checks=CHECKS).json()["status"] == "accepted"
    assert legacy.call_and_validate(headers=auth, checks=CHECKS).status_code == 200
    assert cancel.call_and_validate(headers=auth, checks=CHECKS).json()["status"] == "cancelled"


def test_a_webhook_subscriptions_life_answers_as_documented(token: str) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    create = schema["/v1/webhooks"]["POST"]
    body = next(iter(create.definition.raw["requestBody"]["content"]["application/json"]["examples"].values()))["value"]

    created = create.Case(body=body).call_and_validate(headers=auth, checks=CHECKS)
    ids = {"subscription_id": created.json()["id"]}
    detail = schema["/v1/webhooks/{subscription_id}"]["GET"].Case(path_parameters=ids)
    deliveries = schema["/v1/webhooks/{subscription_id}/deliveries"]["GET"].Case(path_parameters=ids)
    deactivate = schema["/v1/webhooks/{subscription_id}"]["DELETE"].Case(path_parameters=ids)

    assert created.status_code == 201
    assert detail.call_and_validate(headers=auth, checks=CHECKS).json()["deliveries"] == []
    assert deliveries.call_and_validate(headers=auth, checks=CHECKS).json()["count"] == 0
    assert deactivate.call_and_validate(headers=auth, checks=CHECKS).status_code == 204

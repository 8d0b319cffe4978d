"""Property-based fuzzing of every documented operation, in process (WSGI), with a token
carrying every scope: no answer is a 5xx, and every answer is what the schema says
(status code, content type, body).

The app runs inside the test's transaction: nothing commits, so the outbox's on-commit
relay never fires and no broker is needed (the test settings' broker is ``memory://``).
"""

import itertools
from typing import Any

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from apps.accounts import api as accounts
from apps.accounts.models import ManagedAccount, Payer
from apps.audit.services import entry_record
from apps.clients import api as clients
from apps.compliance.models import ComplianceSnapshot
from apps.kernel import clock, ids

app = get_wsgi_application()
schema = schemathesis.openapi.from_wsgi("/v1/schema?format=json", app)

_names = itertools.count()
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
pytestmark = pytest.mark.django_db


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
    return clients.client_create(name=f"fuzzer-{next(_names)}", scopes=list(clients.ALL_SCOPES), all_payers=True).token


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


def test_approval_compliance_and_the_audit_log_answer_as_documented(token: str) -> None:
    """Answers fuzzing cannot reach: a regulated request waiting for approval, approved
    (no run yet: ``run`` is null) or rejected (a cancelled run); a compliance snapshot with
    a non-compliant resource; audit entries with and without an IP, status and payloads."""
    auth = {"Authorization": f"Bearer {token}"}
    accounts.payer_upsert(
        name="demo",
        management_account_id="111111111111",
        email_division="demo",
        email_domain="example.com",
        allowed_environments=["dev", "tst", "stg", "prd"],
        allowed_regions=["us-east-1", "us-west-2"],
        approval_required_for_regulated=True,
    )
    create = schema["/v1/account-requests"]["POST"]
    body = next(iter(create.definition.raw["requestBody"]["content"]["application/json"]["examples"].values()))["value"]
    ids_ = [
        create.Case(body={**body, "regulated": True, "tags": {**body["tags"], "project_short_name": name}})
        .call_and_validate(headers=auth, checks=CHECKS)
        .json()["id"]
        for name in ("one", "two")
    ]
    approve = schema["/v1/account-requests/{request_id}/approve"]["POST"]
    reject = schema["/v1/account-requests/{request_id}/reject"]["POST"]
    second = {"Authorization": f"Bearer {_fresh_token()}"}  # four eyes: another operator approves

    own = approve.Case(path_parameters={"request_id": ids_[0]}).call_and_validate(headers=auth, checks=CHECKS)
    approved = approve.Case(path_parameters={"request_id": ids_[0]}).call_and_validate(headers=second, checks=CHECKS)
    again = approve.Case(path_parameters={"request_id": ids_[0]}).call_and_validate(headers=second, checks=CHECKS)
    rejected = reject.Case(path_parameters={"request_id": ids_[1]}, body={"reason": "no budget"}).call_and_validate(
        headers=second, checks=CHECKS
    )

    assert (own.status_code, own.json()["code"]) == (403, "four_eyes")
    assert (approved.status_code, approved.json()["status"], approved.json()["run"]) == (202, "accepted", None)
    assert (again.status_code, again.json()["code"]) == (409, "request_state_conflict")
    assert (rejected.status_code, rejected.json()["status"]) == (200, "cancelled")
    assert rejected.json()["run"]["status"] == "cancelled"

    ComplianceSnapshot.objects.create(
        id=ids.new_id(),
        aws_account_id="222222222222",
        payer="demo",
        taken_at=clock.now(),
        compliant=False,
        rules=[
            {
                "rule": "s3-bucket-public-read-prohibited",
                "compliance": "NON_COMPLIANT",
                "non_compliant_resources": [{"type": "AWS::S3::Bucket", "id": "open-bucket"}],
            },
            {"rule": "root-mfa", "compliance": "COMPLIANT", "non_compliant_resources": []},
        ],
    )
    entry_record(actor_type="operator", actor="alice", action="admin:accounts.payer:change", before={"a": 1}, after=[])
    entry_record(actor_type="system", actor="", action="compliance.polled")
    compliance = schema["/v1/compliance"]["GET"].Case(query={"compliant": "false"})
    audit = schema["/v1/audit-events"]["GET"].Case(query={"limit": 200})

    snapshots = compliance.call_and_validate(headers=auth, checks=CHECKS).json()["results"]
    events = audit.call_and_validate(headers=auth, checks=CHECKS).json()["results"]

    assert [s["account_id"] for s in snapshots] == ["222222222222"]
    assert {e["action"] for e in events} >= {"admin:accounts.payer:change", "compliance.polled"}


def test_an_accounts_life_answers_as_documented(token: str) -> None:
    """Accounts fuzzing cannot reach: a listed account shown by its AWS id, a command issued
    on it (202) and shown, the account's commands, and the documented 400 and 409 answers."""
    auth = {"Authorization": f"Bearer {token}"}
    now = clock.now()
    account = ManagedAccount.objects.create(
        id=ids.new_id(),
        payer=Payer.objects.get(name="demo"),
        aws_account_id="333333333333",
        name="walk",
        email="walk@example.com",
        status=ManagedAccount.Status.ACTIVE,
        environment="dev",
        tags={"team": "platform"},
        created_at=now,
        updated_at=now,
    )
    path = {"account_id": account.aws_account_id}
    issue = schema["/v1/accounts/{account_id}/commands"]["POST"]
    examples = issue.definition.raw["requestBody"]["content"]["application/json"]["examples"]
    move = next(example["value"] for example in examples.values() if example["value"]["command"] == "move")

    listing = schema["/v1/accounts"]["GET"].Case(query={"environment": "dev", "limit": 5})
    listed = listing.call_and_validate(headers=auth, checks=CHECKS).json()
    shown = schema["/v1/accounts/{account_id}"]["GET"].Case(path_parameters=path)
    mismatch = issue.Case(path_parameters=path, body={"command": "close", "confirm": "444444444444"})
    rejected = mismatch.call_and_validate(headers=auth, checks=CHECKS)
    issued = issue.Case(path_parameters=path, body=move).call_and_validate(headers=auth, checks=CHECKS)
    again = issue.Case(path_parameters=path, body=move).call_and_validate(headers=auth, checks=CHECKS)
    command = schema["/v1/accounts/{account_id}/commands/{command_id}"]["GET"].Case(
        path_parameters={**path, "command_id": issued.json()["id"]}
    )
    commands = schema["/v1/accounts/{account_id}/commands"]["GET"].Case(path_parameters=path)
    detail = shown.call_and_validate(headers=auth, checks=CHECKS).json()

    assert [(item["id"], item["request_id"], item["closed_at"]) for item in listed["results"]] == [
        (account.id, None, None)
    ]
    assert (detail["provisioning"], [c["id"] for c in detail["commands"]]) == (None, [issued.json()["id"]])
    assert (issued.status_code, issued.json()["status"], issued.json()["params"]) == (
        202,
        "running",
        {"ou": move["ou"]},
    )
    assert (again.status_code, again.json()["code"]) == (409, "command_in_progress")
    assert command.call_and_validate(headers=auth, checks=CHECKS).json()["command"] == "move"
    assert commands.call_and_validate(headers=auth, checks=CHECKS).json()["count"] == 1
    assert (rejected.status_code, rejected.json()["code"]) == (400, "confirmation_mismatch")
    assert issued.json()["run"] is None  # the workflow starts it once the transaction commits

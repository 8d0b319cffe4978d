"""``POST /v1/account-requests/<id>/retry`` and ``/cancel``: clients act on their own
requests, operators on all; a retry resumes from the failed steps (202), a cancel stops the
run (200); the wrong state is 409, someone else's request 404."""

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.clients.contracts import OPERATIONS_ADMIN, REQUESTS_READ, REQUESTS_WRITE
from apps.intake.models import AccountRequest
from apps.kernel.contracts import StepFailed
from apps.kernel.models import OutboxMessage
from apps.workflow import services as workflow
from apps.workflow.models import Run, StepRun
from tasks import consumers
from tasks.subscriptions import EVENT_SUBSCRIBERS
from tests.support.factories import request_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(make_api_client: Callable[..., APIClient]) -> APIClient:
    """A client that submits and follows requests (no operator scope)."""
    return make_api_client(REQUESTS_READ, REQUESTS_WRITE)


def deliver(message_type: str) -> None:
    """Hand the recorded, not yet delivered ``message_type`` events to intake and workflow."""
    for row in OutboxMessage.objects.filter(type=message_type, published_at__isnull=True).order_by("sequence"):
        row.published_at = row.recorded_at
        row.save(update_fields=["published_at"])
        for subscriber in EVENT_SUBSCRIBERS[message_type]:
            if subscriber.context in ("intake", "workflow"):
                consumers.handle_event(subscriber, row.envelope)


def submit(api: APIClient, **overrides: Any) -> str:
    """A request whose run started (create_account running)."""
    answer = api.post("/v1/account-requests", request_body(**overrides), format="json")
    assert answer.status_code == 202, answer.json()
    deliver("AccountRequested")
    deliver("RunStarted")
    return str(answer.json()["id"])


def fail(request_id: str) -> None:
    run = Run.objects.get(request_id=request_id)
    workflow.step_record_failed(
        StepFailed(run_id=run.id, step="create_account", attempts=1, error_code="AccessDenied", message="denied")
    )
    deliver("RunFailed")
    assert AccountRequest.objects.get(id=request_id).status == "failed"


def status_of(request_id: str) -> str:
    return AccountRequest.objects.get(id=request_id).status


# --- Retry --------------------------------------------------------------------------------


def test_a_client_retries_its_failed_request(client: APIClient, payer: None) -> None:
    request_id = submit(client)
    fail(request_id)

    answer = client.post(f"/v1/account-requests/{request_id}/retry")

    assert answer.status_code == 202
    body = answer.json()
    assert (body["id"], body["status"], body["failure"]) == (request_id, "provisioning", None)
    assert body["status_url"].endswith(f"/v1/account-requests/{request_id}")
    assert body["run"]["status"] == "running"
    assert [(s["name"], s["state"]) for s in body["steps"]] == [
        ("create_account", "running"),
        ("wait_account", "pending"),
    ]
    assert Run.objects.get(request_id=request_id).retries == 1
    assert OutboxMessage.objects.filter(type="RunResumed").count() == 1


def test_retrying_what_has_not_failed_is_409(client: APIClient, payer: None) -> None:
    request_id = submit(client)

    answer = client.post(f"/v1/account-requests/{request_id}/retry")

    assert answer.status_code == 409
    assert answer.json()["code"] == "request_state_conflict"
    assert "provisioning" in answer.json()["message"]
    assert status_of(request_id) == "provisioning"


def test_retrying_when_another_request_took_the_email_is_409_naming_it(client: APIClient, payer: None) -> None:
    first = submit(client)
    fail(first)
    second = client.post("/v1/account-requests", request_body(), format="json").json()["id"]

    answer = client.post(f"/v1/account-requests/{first}/retry")

    assert answer.status_code == 409
    assert answer.json()["code"] == "request_state_conflict"
    assert answer.json()["extra"] == {"existing_request_id": second}
    assert status_of(first) == "failed"


def test_a_retry_after_a_cancel_before_the_start_is_409(client: APIClient, payer: None) -> None:
    answer = client.post("/v1/account-requests", request_body(), format="json")
    request_id = answer.json()["id"]
    assert client.post(f"/v1/account-requests/{request_id}/cancel").status_code == 200

    retried = client.post(f"/v1/account-requests/{request_id}/retry")

    assert retried.status_code == 409
    assert status_of(request_id) == "cancelled"


# --- Cancel ---------------------------------------------------------------------------------


def test_a_client_cancels_its_request_with_a_reason(client: APIClient, payer: None) -> None:
    request_id = submit(client)

    answer = client.post(f"/v1/account-requests/{request_id}/cancel", {"reason": "project dropped"}, format="json")

    assert answer.status_code == 200
    body = answer.json()
    assert (body["id"], body["status"], body["failure"]) == (request_id, "cancelled", "cancelled: project dropped")
    assert body["run"]["status"] == "cancelled"
    assert body["run"]["finished_at"] is not None
    assert [(s["name"], s["state"]) for s in body["steps"]] == [
        ("create_account", "running"),
        ("wait_account", "skipped"),
    ]
    [cancelled] = OutboxMessage.objects.filter(type="RunCancelled")
    assert cancelled.envelope["payload"]["reason"] == "project dropped"


def test_a_cancel_without_a_reason_says_the_client_cancelled(client: APIClient, payer: None) -> None:
    request_id = submit(client)

    answer = client.post(f"/v1/account-requests/{request_id}/cancel")

    assert answer.status_code == 200
    assert answer.json()["failure"] == "cancelled: cancelled by the client"
    assert Run.objects.get(request_id=request_id).failure == "cancelled by the client"


def test_a_cancel_reason_is_validated(client: APIClient, payer: None) -> None:
    request_id = submit(client)

    answer = client.post(f"/v1/account-requests/{request_id}/cancel", {"reason": "x" * 501}, format="json")

    assert answer.status_code == 400
    assert answer.json()["code"] == "validation_error"
    assert status_of(request_id) == "provisioning"


def test_cancelling_a_finished_request_is_409(client: APIClient, payer: None) -> None:
    request_id = submit(client)
    fail(request_id)

    answer = client.post(f"/v1/account-requests/{request_id}/cancel")

    assert answer.status_code == 409
    assert answer.json()["code"] == "request_state_conflict"
    assert status_of(request_id) == "failed"
    assert client.post(f"/v1/account-requests/{request_id}/retry").status_code == 202
    assert client.post(f"/v1/account-requests/{request_id}/cancel").status_code == 200
    assert client.post(f"/v1/account-requests/{request_id}/cancel").status_code == 409


def test_a_cancelled_request_is_retried_from_where_it_stopped(client: APIClient, payer: None) -> None:
    request_id = submit(client)
    client.post(f"/v1/account-requests/{request_id}/cancel")

    answer = client.post(f"/v1/account-requests/{request_id}/retry")

    assert answer.status_code == 202
    assert answer.json()["status"] == "provisioning"
    assert StepRun.objects.get(run__request_id=request_id, name="wait_account").state == "pending"


# --- Who may act -----------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["retry", "cancel"])
def test_another_clients_request_is_404(
    make_api_client: Callable[..., APIClient], client: APIClient, payer: None, action: str
) -> None:
    request_id = submit(client)
    if action == "retry":
        fail(request_id)
    before = status_of(request_id)
    stranger = make_api_client(REQUESTS_READ, REQUESTS_WRITE)

    answer = stranger.post(f"/v1/account-requests/{request_id}/{action}")

    assert answer.status_code == 404
    assert answer.json()["code"] == "not_found"
    assert status_of(request_id) == before
    assert stranger.post(f"/v1/account-requests/no-such-request/{action}").status_code == 404


def test_operators_act_on_any_request(
    make_api_client: Callable[..., APIClient], client: APIClient, payer: None
) -> None:
    operator = make_api_client(REQUESTS_WRITE, OPERATIONS_ADMIN)
    failed = submit(client)
    fail(failed)
    running = submit(client, tags__project_short_name="other")

    retried = operator.post(f"/v1/account-requests/{failed}/retry")
    cancelled = operator.post(f"/v1/account-requests/{running}/cancel", {"reason": "ops"}, format="json")

    assert (retried.status_code, retried.json()["status"]) == (202, "provisioning")
    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "cancelled")


@pytest.mark.parametrize("action", ["retry", "cancel"])
def test_acting_needs_the_requests_write_scope(
    make_api_client: Callable[..., APIClient], client: APIClient, payer: None, action: str
) -> None:
    request_id = submit(client)
    fail(request_id)
    reader = make_api_client(REQUESTS_READ, OPERATIONS_ADMIN)

    answer = reader.post(f"/v1/account-requests/{request_id}/{action}")

    assert answer.status_code == 403
    assert answer.json()["code"] == "permission_denied"
    assert status_of(request_id) == "failed"
    assert APIClient().post(f"/v1/account-requests/{request_id}/{action}").status_code == 401

"""Managing webhook subscriptions over the API: each client its own, the secret once."""

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.clients.contracts import REQUESTS_READ, REQUESTS_WRITE, WEBHOOKS_ADMIN
from apps.notifications.models import WebhookSubscription
from apps.notifications.secret_store import decrypt
from apps.notifications.services import deliveries_create_for_event
from apps.workflow.contracts import RunSucceeded
from tests.notifications.conftest import Tenant

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.notifications.urls")]

URL = "https://hooks.example.com/bespoke"


def create(api: APIClient, **body: Any) -> Any:
    return api.post("/v1/webhooks", {"url": URL, **body}, format="json")


def test_creating_answers_201_with_the_subscription_and_its_secret(api: APIClient) -> None:
    response = create(api, events=["run.succeeded", "run.failed"], description="ticketing")

    assert response.status_code == 201
    body = response.json()
    assert body["url"] == URL
    assert body["events"] == ["run.succeeded", "run.failed"]
    assert body["description"] == "ticketing"
    assert body["active"] is True
    assert body["secret"].startswith("whsec_")
    assert response["Location"].endswith(f"/v1/webhooks/{body['id']}")
    assert body["deliveries_url"].endswith(f"/v1/webhooks/{body['id']}/deliveries")
    assert (body["last_outcome"], body["last_attempt_at"]) == (None, None)
    stored = WebhookSubscription.objects.get(id=body["id"])
    assert decrypt(stored.secret_encrypted) == body["secret"]
    assert body["secret"] not in str(WebhookSubscription.objects.filter(id=body["id"]).values().get())


def test_the_secret_is_shown_only_at_creation(api: APIClient) -> None:
    created = create(api).json()

    detail = api.get(f"/v1/webhooks/{created['id']}").json()
    listed = api.get("/v1/webhooks").json()

    assert "secret" not in detail
    assert all("secret" not in item for item in listed["results"])
    assert created["secret"] not in str(detail) + str(listed)


def test_no_events_means_every_event(api: APIClient) -> None:
    body = create(api).json()

    assert body["events"] == []
    assert body["description"] == ""


def test_repeated_event_names_are_kept_once(api: APIClient) -> None:
    assert create(api, events=["run.failed", "run.failed"]).json()["events"] == ["run.failed"]


def test_a_client_lists_and_sees_only_its_own_subscriptions(make_api_client: Callable[..., APIClient]) -> None:
    mine, theirs = make_api_client(), make_api_client()
    own_ids = {create(mine).json()["id"], create(mine, events=["run.failed"]).json()["id"]}
    their_id = create(theirs).json()["id"]

    listed = mine.get("/v1/webhooks").json()

    assert listed["count"] == 2
    assert {item["id"] for item in listed["results"]} == own_ids
    assert mine.get(f"/v1/webhooks/{their_id}").status_code == 404
    assert mine.get(f"/v1/webhooks/{their_id}/deliveries").status_code == 404
    assert mine.delete(f"/v1/webhooks/{their_id}").status_code == 404
    assert WebhookSubscription.objects.get(id=their_id).active is True


@pytest.mark.parametrize(
    "url",
    [
        "ftp://hooks.example.com/x",
        "hooks.example.com/x",
        "https:///no-host",
        "http://",
        "https://hooks.example.com/a b",
        "https://hooks.example.com:99999/x",
        "javascript:alert(1)",
        "",
    ],
)
def test_a_url_that_is_not_http_with_a_host_is_refused(api: APIClient, url: str) -> None:
    response = api.post("/v1/webhooks", {"url": url}, format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    assert "url" in body["extra"]["fields"]
    assert not WebhookSubscription.objects.exists()


def test_a_url_at_a_public_name_or_address_is_accepted(api: APIClient, local_names: Any, settings: Any) -> None:
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    local_names.names["hooks.customer.example"] = ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]
    for url in (
        "https://hooks.customer.example/bespoke",
        "http://hooks.customer.example:8080/hook",
        "https://93.184.215.14/x",
        "https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]:8443/x",
    ):
        assert api.post("/v1/webhooks", {"url": url}, format="json").status_code == 201, url


def test_an_unknown_event_name_is_refused_on_events(api: APIClient) -> None:
    response = create(api, events=["run.succeeded", "run.exploded"])

    assert response.status_code == 400
    fields = response.json()["extra"]["fields"]
    assert list(fields) == ["events"]
    assert "run.exploded" in fields["events"][0]
    assert not WebhookSubscription.objects.exists()


def test_an_unknown_field_is_refused(api: APIClient) -> None:
    response = create(api, secret="mine")

    assert response.status_code == 400
    assert "secret" in response.json()["extra"]["fields"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/v1/webhooks"),
        ("get", "/v1/webhooks"),
        ("get", "/v1/webhooks/any"),
        ("delete", "/v1/webhooks/any"),
        ("get", "/v1/webhooks/any/deliveries"),
    ],
)
def test_every_endpoint_needs_the_webhooks_admin_scope(
    make_api_client: Callable[..., APIClient], method: str, path: str
) -> None:
    without = make_api_client(REQUESTS_READ, REQUESTS_WRITE)

    response = getattr(without, method)(path, {"url": URL}, format="json")

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert getattr(APIClient(), method)(path, {"url": URL}, format="json").status_code == 401


def test_the_scope_alone_is_enough(make_api_client: Callable[..., APIClient]) -> None:
    assert create(make_api_client(WEBHOOKS_ADMIN)).status_code == 201


def test_deleting_deactivates_the_subscription_and_the_api_answers_404_for_it(api: APIClient) -> None:
    subscription_id = create(api).json()["id"]
    kept = create(api).json()["id"]

    response = api.delete(f"/v1/webhooks/{subscription_id}")

    assert response.status_code == 204
    assert WebhookSubscription.objects.get(id=subscription_id).active is False  # kept, with its deliveries
    assert api.get(f"/v1/webhooks/{subscription_id}").status_code == 404
    assert api.get(f"/v1/webhooks/{subscription_id}/deliveries").status_code == 404
    assert api.delete(f"/v1/webhooks/{subscription_id}").status_code == 404
    assert [item["id"] for item in api.get("/v1/webhooks").json()["results"]] == [kept]
    assert api.delete("/v1/webhooks/no-such-id").status_code == 404


def test_the_detail_shows_the_latest_twenty_deliveries(api: APIClient, tenant_a: Tenant) -> None:
    subscription_id = create(api).json()["id"]  # an operator of tenant A's payer
    for n in range(22):
        deliveries_create_for_event(event=RunSucceeded(run_id=f"run-{n}", request_id=tenant_a.request_id))

    detail = api.get(f"/v1/webhooks/{subscription_id}").json()
    page = api.get(f"/v1/webhooks/{subscription_id}/deliveries", {"limit": 5, "offset": 20}).json()

    assert len(detail["deliveries"]) == 20
    first = detail["deliveries"][0]
    assert (first["event_type"], first["state"], first["attempts"], first["last_outcome"], first["last_error"]) == (
        "run.succeeded",
        "pending",
        0,
        None,
        None,
    )
    assert page["count"] == 22
    assert len(page["results"]) == 2
    assert api.get(f"/v1/webhooks/{subscription_id}/deliveries", {"limit": 0}).status_code == 400

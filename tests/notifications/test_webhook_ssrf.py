"""Webhooks never reach Bespoke itself or its network: internal URLs are refused when a
client subscribes (400, on the ``url`` field) and again at every delivery (a name that
changes its answer in between is caught), redirects are not followed, and what clients
see of a failed delivery is a category, never an internal service's words or status.

Before: http://127.0.0.1, http://169.254.169.254/…, http://[::1] and http://0x7f000001/
were accepted, and the deliveries API reported the internal service's status or its
connection error — a port scanner. Only the receivers on WEBHOOK_ALLOWED_NETWORKS (the
test settings allow 127.0.0.1 for tests/support/webhooks.py) are reachable inside.
"""

import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import transaction
from rest_framework.test import APIClient

from apps.kernel.steps import RetryLater
from apps.notifications import handlers
from apps.notifications.contracts import DeliverWebhook
from apps.notifications.models import WebhookDelivery, WebhookSubscription
from apps.notifications.services import InvalidSubscription, subscription_create
from apps.notifications.signing import verify_signature
from apps.workflow.contracts import RunSucceeded
from tests.notifications.conftest import Tenant
from tests.support.webhooks import LocalResolver, Receiver, webhook_receiver

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.notifications.urls")]

PUBLIC = "93.184.215.14"  # an address the guard allows (no test ever connects to it)

HOSTILE_URLS = [
    # loopback, in every spelling
    "http://127.0.0.1/",
    "http://127.0.0.1:8000/v1/account-requests",
    "http://127.255.255.254/",
    "http://2130706433/",  # decimal
    "http://0x7f000001/",  # hex
    "http://0x7F.0.0.1/",
    "http://0177.0.0.1/",  # octal
    "http://017700000001/",
    "http://127.1/",  # short forms
    "http://127.0.1/",
    "http://127.0.0.1./",  # trailing dot
    "http://\uff11\uff12\uff17.\uff10.\uff10.\uff11/",  # full-width digits
    "http://%31%32%37.0.0.1/",  # percent-encoded
    "HTTP://127.0.0.1/",  # upper case
    "http://[::1]/",
    "http://[0:0:0:0:0:0:0:1]/",
    "http://[::ffff:127.0.0.1]/",  # IPv4-mapped
    "http://[::ffff:7f00:1]/",
    "http://[::127.0.0.1]/",  # IPv4-compatible
    "http://[64:ff9b::7f00:1]/",  # NAT64 of 127.0.0.1
    "http://localhost/",  # a name that resolves to loopback
    "http://LOCALHOST./",
    "http://internal.bespoke.test/",  # a made-up name resolving to 127.0.0.1
    "http://evil.example.com@127.0.0.1/",  # user info
    "http://127.0.0.1:80@hooks.example.com/",
    "http://hooks.example.com\\@127.0.0.1/",  # a backslash
    # the cloud metadata services, and link-local
    "http://169.254.169.254/latest/meta-data/",
    "http://169.254.43518/latest/meta-data/",
    "http://0xa9fea9fe/",
    "http://[::ffff:169.254.169.254]/",
    "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 of the metadata address
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://169.254.170.2/v2/credentials",
    "http://[fe80::1]/",
    "http://[fe80::1%25eth0]/",
    # private, shared and special
    "http://10.0.0.1/",
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://[fc00::1]/",
    "http://[fd12:3456::1]/",
    "http://100.64.0.1/",  # CGNAT
    "http://100.100.100.200/",
    "http://0.0.0.0/",
    "http://0/",
    "http://[::]/",
    "http://224.0.0.1/",  # multicast
    "http://[ff02::1]/",
    "http://240.0.0.1/",  # reserved
    "http://255.255.255.255/",
    "http://192.0.2.10/",  # documentation
    "http://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
    "http://mixed.bespoke.test/",  # one public address and one private: every address counts
    "http://nowhere.bespoke.test/",  # a name that does not resolve
]


@pytest.fixture(autouse=True)
def nothing_inside_is_allowed(settings: Any, local_names: LocalResolver) -> None:
    """As in production: no private network allowed (the test settings allow loopback)."""
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    local_names.names["internal.bespoke.test"] = ["127.0.0.1"]
    local_names.names["mixed.bespoke.test"] = [PUBLIC, "10.1.2.3"]


def test_there_are_enough_hostile_urls() -> None:
    assert len(HOSTILE_URLS) >= 25


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_a_url_that_reaches_inside_is_refused_at_subscription(api: APIClient, url: str) -> None:
    response = api.post("/v1/webhooks", {"url": url}, format="json")

    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "validation_error"
    [problem] = body["extra"]["fields"]["url"]
    assert problem  # says why, in words
    assert "10.1.2.3" not in problem  # never where a name points
    assert not WebhookSubscription.objects.exists()


@pytest.mark.parametrize("url", ["http://localhost/", "http://[::1]/", "http://0x7f000001/"])
def test_the_service_refuses_them_too(url: str) -> None:
    with pytest.raises(InvalidSubscription) as refused:
        subscription_create(client_id="anyone", url=url)

    assert "url" in refused.value.extra["fields"]


def test_https_is_required_where_the_settings_say_so(api: APIClient, settings: Any, local_names: LocalResolver) -> None:
    settings.WEBHOOK_REQUIRE_HTTPS = True
    local_names.names["hooks.customer.test"] = [PUBLIC]

    refused = api.post("/v1/webhooks", {"url": "http://hooks.customer.test/x"}, format="json")
    accepted = api.post("/v1/webhooks", {"url": "https://hooks.customer.test/x"}, format="json")

    assert refused.status_code == 400
    assert refused.json()["extra"]["fields"]["url"] == ["The URL must start with https://."]
    assert accepted.status_code == 201


# --- At delivery -------------------------------------------------------------------------------


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as state:
        yield state


Deliver = Callable[[], WebhookDelivery]


@pytest.fixture
def delivery_to(tenant_a: Tenant) -> Callable[[str], Deliver]:
    """``delivery_to(url)()``: tenant A subscribes ``url``; an event about its request is
    handled; each call of the result makes one attempt and returns the delivery."""

    def subscribe(url: str) -> Deliver:
        subscription_create(client_id=tenant_a.client_id, url=url)
        with transaction.atomic():
            handlers.on_run_event(RunSucceeded(run_id="run-1", request_id=tenant_a.request_id))
        delivery = WebhookDelivery.objects.get()

        def attempt() -> WebhookDelivery:
            with contextlib.suppress(RetryLater):  # a failed attempt asks to be retried
                handlers.deliver_webhook(DeliverWebhook(delivery_id=delivery.id), attempt=1, retry_delay=1.0)
            delivery.refresh_from_db()
            return delivery

        return attempt

    return subscribe


def test_a_name_that_turns_private_after_subscribing_is_refused_at_delivery(
    receiver: Receiver, local_names: LocalResolver, delivery_to: Callable[[str], Deliver], api: APIClient
) -> None:
    local_names.names["rebind.bespoke.test"] = [PUBLIC]  # public when the client subscribes…
    attempt = delivery_to(f"http://rebind.bespoke.test:{receiver.port}/hook")
    local_names.names["rebind.bespoke.test"] = ["127.0.0.1"]  # …loopback when we deliver

    delivery = attempt()

    assert receiver.requests == []  # nothing reached the service on loopback
    assert (delivery.state, delivery.attempts, delivery.last_outcome, delivery.last_status_code) == (
        "pending",
        1,
        "refused_address",
        None,
    )
    assert "127.0.0.1" in delivery.last_error  # operators see where it pointed


def test_a_redirect_to_the_metadata_service_is_not_followed(
    settings: Any, receiver: Receiver, delivery_to: Callable[[str], Deliver], local_names: LocalResolver
) -> None:
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]  # the receiver (a customer's, say) is allowed
    receiver.statuses.append(302)
    receiver.location = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"
    attempt = delivery_to(receiver.url)
    local_names.lookups.clear()

    delivery = attempt()

    assert len(receiver.requests) == 1
    assert local_names.lookups == []  # nothing else was even looked up
    assert (delivery.state, delivery.last_outcome, delivery.last_status_code) == ("pending", "redirect", 302)


def test_a_receiver_on_an_allowed_network_gets_signed_deliveries(
    settings: Any, receiver: Receiver, api: APIClient, tenant_a: Tenant
) -> None:
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    created = api.post("/v1/webhooks", {"url": receiver.url}, format="json")
    assert created.status_code == 201, created.content
    event = RunSucceeded(run_id="run-1", request_id=tenant_a.request_id, outputs={"account_id": "123456789012"})
    with transaction.atomic():
        handlers.on_run_event(event)
    delivery = WebhookDelivery.objects.get()

    handlers.deliver_webhook(DeliverWebhook(delivery_id=delivery.id), attempt=1, retry_delay=None)

    [request] = receiver.requests
    assert verify_signature(created.json()["secret"], request.headers["bespoke-signature"], request.body)
    assert json.loads(request.body)["id"] == event.message_id
    assert api.get(f"/v1/webhooks/{created.json()['id']}").json()["last_outcome"] == "http_200"


def test_clients_see_what_a_delivery_came_to_never_the_networks_words(
    settings: Any, api: APIClient, tenant_a: Tenant, local_names: LocalResolver
) -> None:
    """Before, last_error said e.g. "Connection failed: … [Errno 111] Connection refused" and
    last_status_code carried an internal service's status."""
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    local_names.names["closed.bespoke.test"] = ["127.0.0.9"]  # nothing listens there
    created = api.post("/v1/webhooks", {"url": "http://closed.bespoke.test:9/hook"}, format="json").json()
    with transaction.atomic():
        handlers.on_run_event(RunSucceeded(run_id="run-1", request_id=tenant_a.request_id))
    delivery = WebhookDelivery.objects.get()
    handlers.deliver_webhook(DeliverWebhook(delivery_id=delivery.id), attempt=1, retry_delay=None)
    settings.WEBHOOK_ALLOWED_NETWORKS = []  # and later the address is no longer allowed
    WebhookDelivery.objects.filter(id=delivery.id).update(state="pending")
    listed_before = api.get(f"/v1/webhooks/{created['id']}/deliveries").json()
    handlers.deliver_webhook(DeliverWebhook(delivery_id=delivery.id), attempt=2, retry_delay=None)

    listed = api.get(f"/v1/webhooks/{created['id']}/deliveries").json()
    detail = api.get(f"/v1/webhooks/{created['id']}").json()

    [first] = listed_before["results"]
    assert (first["last_outcome"], first["last_status_code"]) == ("connection_failed", None)
    assert first["last_error"] == "No connection could be made to the receiver."
    [shown] = listed["results"]
    assert (shown["last_outcome"], shown["last_status_code"]) == ("refused_address", None)
    assert (detail["last_outcome"], detail["deliveries"][0]["last_outcome"]) == ("refused_address", "refused_address")
    shown_text = json.dumps([listed_before, listed, detail]).lower()
    for internal in ("errno", "refused by", "127.0.0.9", "connection refused", "newconnectionerror", "urllib3"):
        assert internal not in shown_text, internal
    assert "127.0.0.9" in WebhookDelivery.objects.get().last_error  # operators keep the detail

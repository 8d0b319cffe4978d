"""Two tenants: a client acts only on the payers it is granted. A request for another
payer is 403 ``payer_not_granted`` (whether or not that payer exists); another tenant's
requests are 404 everywhere and never listed; a duplicate's 409 names the live request
only to whoever may see it."""

from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from apps.intake.models import AccountRequest
from apps.kernel.models import OutboxMessage
from tests.support import factories
from tests.support.factories import request_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def tenants(make_api_client: Callable[..., APIClient]) -> tuple[APIClient, APIClient]:
    factories.payer("demo")
    factories.payer("sandbox", email_domain="sandbox.example.com")
    demo = make_api_client("requests:read", "requests:write", payers=("demo",))
    sandbox = make_api_client("requests:read", "requests:write", payers=("sandbox",))
    return demo, sandbox


@pytest.mark.parametrize("dry_run", [False, True])
@pytest.mark.parametrize("payer", ["sandbox", "nosuch"])
def test_a_request_for_a_payer_not_granted_is_403_and_writes_nothing(
    tenants: tuple[APIClient, APIClient], payer: str, dry_run: bool
) -> None:
    demo, _ = tenants

    response = demo.post(
        f"/v1/account-requests?dry_run={str(dry_run).lower()}", request_body(payer=payer), format="json"
    )

    assert response.status_code == 403, response.json()
    assert response.json()["code"] == "payer_not_granted"
    assert not AccountRequest.objects.exists()
    assert not OutboxMessage.objects.exists()


def test_the_legacy_facade_holds_clients_to_their_payers_too(tenants: tuple[APIClient, APIClient]) -> None:
    from tests.legacy.test_wire import legacy_body

    demo, _ = tenants

    response = demo.post("/accounts", legacy_body(accountCbAlias="sandbox"), format="json")

    assert response.status_code == 403, response.json()
    assert response.json()["code"] == "4030"
    assert not AccountRequest.objects.exists()


def test_a_grant_narrowed_to_environments_holds(make_api_client: Callable[..., APIClient]) -> None:
    factories.payer("demo")
    dev_only = make_api_client("requests:read", "requests:write", payers=("demo:dev",))

    refused = dev_only.post("/v1/account-requests", request_body(environment="prd"), format="json")
    accepted = dev_only.post("/v1/account-requests", request_body(environment="dev"), format="json")

    assert refused.status_code == 403
    assert refused.json()["code"] == "payer_not_granted"
    assert "prd" in refused.json()["message"]
    assert accepted.status_code == 202


def test_another_tenants_requests_are_404_and_never_listed(tenants: tuple[APIClient, APIClient]) -> None:
    demo, sandbox = tenants
    mine = demo.post("/v1/account-requests", request_body(), format="json").json()["id"]
    theirs = sandbox.post("/v1/account-requests", request_body(payer="sandbox"), format="json").json()["id"]

    assert [r["id"] for r in demo.get("/v1/account-requests").json()["results"]] == [mine]
    assert [r["id"] for r in sandbox.get("/v1/account-requests").json()["results"]] == [theirs]
    for path in ("", "/retry", "/cancel"):
        method = demo.get if path == "" else demo.post
        response = method(f"/v1/account-requests/{theirs}{path}", {}, format="json")
        assert response.status_code == 404, (path, response.json())
    assert demo.get(f"/requeststatus/{theirs}").status_code == 404
    assert AccountRequest.objects.get(id=theirs).status == "accepted"


def test_a_duplicate_of_another_clients_request_does_not_reveal_it(
    make_api_client: Callable[..., APIClient],
) -> None:
    factories.payer("demo")
    portal = make_api_client("requests:read", "requests:write", payers=("demo",))
    ticketing = make_api_client("requests:read", "requests:write", payers=("demo",))
    first = portal.post("/v1/account-requests", request_body(), format="json").json()["id"]

    theirs = ticketing.post("/v1/account-requests", request_body(), format="json")
    own = portal.post("/v1/account-requests", request_body(), format="json")
    legacy = ticketing.post("/accounts", _legacy_duplicate(), format="json")

    assert theirs.status_code == 409
    assert theirs.json()["code"] == "duplicate_request"
    assert first not in theirs.content.decode()
    assert "status" not in theirs.json()["extra"]
    assert own.status_code == 409
    assert own.json()["extra"]["existing_request_id"] == first  # its own: it may know
    assert legacy.status_code == 409
    assert first not in legacy.content.decode()


def _legacy_duplicate() -> dict[str, object]:
    from tests.legacy.test_wire import legacy_body

    return legacy_body()


def test_operators_see_every_clients_requests_inside_their_grants(
    tenants: tuple[APIClient, APIClient], make_api_client: Callable[..., APIClient]
) -> None:
    demo, sandbox = tenants
    mine = demo.post("/v1/account-requests", request_body(), format="json").json()["id"]
    sandbox.post("/v1/account-requests", request_body(payer="sandbox"), format="json")
    demo_operator = make_api_client("operations:admin", "requests:read", payers=("demo",))
    everyone = make_api_client("operations:admin", "requests:read", all_payers=True)

    assert [r["id"] for r in demo_operator.get("/v1/account-requests").json()["results"]] == [mine]
    assert everyone.get("/v1/account-requests").json()["count"] == 2

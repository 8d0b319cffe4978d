"""The authorization matrix, generated from ``/v1/schema``: every documented operation
(the legacy facade included), for each of five callers:

- no token → 401;
- an expired token of the right client → 401 (``token_expired``);
- a token without the operation's scopes → 403;
- a client of another payer (every scope, granted only ``sandbox``) → 404 for the right
  tenant's objects, 403 for a new request into its payer or for what needs every payer,
  and lists that never name the right tenant's objects;
- the right client → 2xx.

The scopes and the every-payer rule come from the schema (``x-required-scopes``,
``x-requires-all-payers``), so a new endpoint is in the matrix without a test of its own:
it needs only a way to make its path's objects (``OBJECTS``) and, for a POST, a body
(``BODIES``) — a test below fails until it has them.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client
from rest_framework.test import APIClient

from apps.accounts import api as accounts
from apps.accounts.models import AccountCommand
from apps.clients import api as clients
from apps.clients.models import ApiToken
from apps.cloud.emulator import ensure_organization
from apps.intake.services import request_cancel, request_create
from apps.kernel import clock, ids
from apps.kernel.deadletters import dead_letter_record
from apps.kernel.models import OutboxMessage
from apps.notifications import api as notifications
from apps.workflow.contracts import RunStarted
from tasks import consumers
from tasks.subscriptions import EVENT_SUBSCRIBERS
from tests.support import factories
from tests.support.factories import request_body

pytestmark = pytest.mark.django_db

CALLERS = ("no_token", "expired", "missing_scope", "other_tenant", "right_client")


def _schema() -> dict[str, Any]:
    return dict(json.loads(Client().get("/v1/schema?format=json").content))


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    operation_id: str
    scopes: tuple[str, ...]
    all_payers: bool
    authenticated: bool

    @property
    def path_params(self) -> list[str]:
        return [part[1:-1] for part in self.path.split("/") if part.startswith("{")]


def _operations() -> list[Operation]:
    found = []
    for path, item in _schema()["paths"].items():
        for method, operation in item.items():
            found.append(
                Operation(
                    method=method,
                    path=path,
                    operation_id=operation["operationId"],
                    scopes=tuple(operation.get("x-required-scopes", ())),
                    all_payers=bool(operation.get("x-requires-all-payers")),
                    authenticated="x-required-scopes" in operation,
                )
            )
    return sorted(found, key=lambda op: op.operation_id)


OPERATIONS = _operations()


# --- The right tenant's world -----------------------------------------------------------------


@dataclass
class World:
    """The right tenant (payer ``demo``) and its objects, made for one operation."""

    right: clients.IssuedToken
    requester: clients.IssuedToken  # another client of demo: what an approver approves
    objects: dict[str, str] = field(default_factory=dict)  # the path's objects
    belongings: list[str] = field(default_factory=list)  # ids another tenant must never see


def _client(scopes: list[str], **grants: Any) -> clients.IssuedToken:
    return clients.client_create(name=f"client-{ids.new_id()[:8]}", scopes=scopes, **grants)


def _request(client_id: str, **overrides: Any) -> str:
    return request_create(client_id=client_id, data=request_body(**overrides)).id


def _vended_account() -> Any:
    return factories.account(payer_name="demo", environment="dev")


def _object_request(op: Operation, world: World) -> str:
    if op.operation_id.endswith(("_approve", "_reject")):
        return _request(world.requester.client_id, regulated=True)  # awaiting approval: the payer requires it
    request_id = _request(world.right.client_id)
    if op.operation_id.endswith("_retry"):
        _start_run(request_id)  # a run to resume, then the request is cancelled
        request_cancel(request_id=request_id, reason="to retry it")
    return request_id


def _start_run(request_id: str) -> None:
    """The workflow starts the request's run (its steps are only recorded, not run)."""
    [requested] = [
        m.envelope
        for m in OutboxMessage.objects.filter(type="AccountRequested")
        if m.envelope["payload"]["request_id"] == request_id
    ]
    for subscriber in EVENT_SUBSCRIBERS["AccountRequested"]:
        if subscriber.name.startswith("workflow."):
            consumers.handle_event(subscriber, requested)


def _object_account(op: Operation, world: World) -> str:
    account = _vended_account()
    if "command_id" in op.path_params:
        issuer = world.requester if op.operation_id.endswith(("_approve", "_reject")) else world.right
        command = AccountCommand.objects.create(
            id=ids.new_id(),
            account=account,
            command="close",
            params={"confirm": account.aws_account_id},
            status=AccountCommand.Status.AWAITING_APPROVAL,
            account_status_before="active",
            client_id=issuer.client_id,
            requested_by=f"client:{issuer.client_id}",
            requested_by_name="client:issuer",
            created_at=clock.now(),
        )
        world.objects["command_id"] = command.id
    return str(account.id)


def _object_dead_letter(op: Operation, world: World) -> str:
    envelope = RunStarted(run_id="run-1", request_id="request-1").to_envelope()
    return dead_letter_record(
        handler="intake.on_run_started", envelope=envelope, error_code="Boom", error="bug", attempts=1, history=[]
    ).id


def _object_subscription(op: Operation, world: World) -> str:
    issued = notifications.subscription_create(client_id=world.right.client_id, url="https://hooks.example.com/bespoke")
    return issued.subscription.id


def _object_prefix(op: Operation, world: World) -> str:
    return world.right.prefix


# How to make each path parameter's object for the right tenant.
OBJECTS: dict[str, Callable[[Operation, World], str]] = {
    "request_id": _object_request,
    "account_id": _object_account,
    "command_id": lambda op, world: world.objects["command_id"],  # made with its account
    "dead_letter_id": _object_dead_letter,
    "subscription_id": _object_subscription,
    "prefix": _object_prefix,
    # The legacy facade names accounts by their AWS ids.
    "aws_account_id": lambda op, world: _legacy_account(world),
}


def _legacy_account(world: World) -> str:
    """An active account of demo, by AWS id (in the emulated Organization when there is one)."""
    if "aws_account_id" not in world.objects:
        aws_account_id = world.objects.get("organization_member")
        world.objects["aws_account_id"] = str(
            factories.account(payer_name="demo", aws_account_id=aws_account_id).aws_account_id
        )
    return world.objects["aws_account_id"]


# The legacy facade's headers and queries (Tailor named the payer in a header).
DEMO = {"accountCbAlias": "demo"}
HEADERS: dict[str, dict[str, str]] = {
    "legacy_accounts_lookup": DEMO,
    "legacy_accounts_update": DEMO,
    "legacy_account_ids": DEMO,
    "legacy_vpcflowlogs_update": DEMO,
    "legacy_configrules_update": DEMO,
}
QUERIES: dict[str, Callable[[World], dict[str, str]]] = {
    "legacy_accounts_lookup": lambda world: {"accountid": _legacy_account(world)},
    "legacy_accounts_update": lambda world: {"accountid": _legacy_account(world)},
    "legacy_request_status_query": lambda world: {"requestId": _request(world.right.client_id)},
}
# Operations that reach AWS for the right client (the emulated Organization holds the account).
NEEDS_AWS = {"legacy_accounts_update"}


def _legacy_request() -> dict[str, Any]:
    from tests.legacy.test_wire import EXAMPLE

    return dict(EXAMPLE)


# The body a POST takes for the right client to succeed (a callable: made per test).
BODIES: dict[str, Callable[[World], Any]] = {
    "account_requests_create": lambda world: request_body(tags__project_short_name="matrix"),
    "legacy_accounts_create": lambda world: _legacy_request(),
    "account_requests_approve": lambda world: {},
    "account_requests_reject": lambda world: {"reason": "not now"},
    "account_requests_cancel": lambda world: {},
    "account_requests_retry": lambda world: {},
    "account_commands_create": lambda world: {"command": "reapply", "steps": ["iam"]},
    "account_commands_approve": lambda world: {},
    "account_commands_reject": lambda world: {"reason": "not now"},
    "dead_letters_discard": lambda world: {"reason": "known issue"},
    "dead_letters_redrive": lambda world: {},
    "dead_letters_redrive_many": lambda world: {"ids": [world.objects["dead_letter_id"]]},
    "tokens_create": lambda world: {},
    "tokens_rotate": lambda world: {},
    "webhooks_create": lambda world: {"url": "https://hooks.example.com/new"},
    "legacy_accounts_update": lambda world: {"accountUpdate": {"accountTagCostCenter": "1234567890"}},
    "legacy_vpcflowlogs_update": lambda world: {
        "region": "us-east-1",
        "stackName": "core-vpc",
        "accountId": _legacy_account(world),
    },
    "legacy_vpcdns_update": lambda world: {
        "region": "us-east-1",
        "vpcId": "vpc-0123456789abcdef0",
        "accountId": _legacy_account(world),
    },
    "legacy_configrules_update": lambda world: {"accountId": _legacy_account(world)},
    "legacy_cloudtrail_update": lambda world: {},
    "legacy_config_update": lambda world: {},
    "legacy_cloudability_update": lambda world: {},
}
# A POST whose body names the right tenant's payer: another tenant gets 403, not 2xx.
NAMES_A_PAYER = {"account_requests_create", "legacy_accounts_create", *HEADERS}
# A call whose query or body names the right tenant's object: another tenant gets 404.
NAMES_AN_OBJECT = {"legacy_vpcdns_update", "legacy_request_status_query"}
# What the right client gets where no step of the blueprint reports the task (Tailor's
# Cloudability registration is an integration step only some blueprints hold).
RIGHT_CLIENT = {"legacy_cloudability_update": {404}}


def _organization_member(request: pytest.FixtureRequest) -> str:
    """An account in the emulated Organization of payer demo; its AWS id."""
    aws = request.getfixturevalue("aws")
    factories.payer("demo", approval_required_for_regulated=True, management_account_id=ensure_organization())
    created = aws.client("organizations").create_account(Email="matrix@example.com", AccountName="matrix")
    status = created["CreateAccountStatus"]
    return str(
        aws.client("organizations").describe_create_account_status(CreateAccountRequestId=status["Id"])[
            "CreateAccountStatus"
        ]["AccountId"]
    )


def _world(op: Operation) -> World:
    factories.payer("demo", approval_required_for_regulated=True)
    factories.payer("sandbox", management_account_id="555555555555")
    steps = ["iam", "cloudtrail", "config", "vpc", "flow_logs", "dns"]
    accounts.blueprint_save(payer_name="demo", name="baseline", definition={"steps": [{"name": n} for n in steps]})
    scopes = sorted({*op.scopes, "requests:read"})
    if op.all_payers and "operations:admin" not in op.scopes:
        scopes = sorted(op.scopes)  # every payer without operations:admin: a scraper's token, that scope alone
    right = _client(scopes, all_payers=True) if op.all_payers else _client(scopes, payers=["demo"])
    world = World(
        right=right, requester=_client(["requests:read", "requests:write", "accounts:admin"], payers=["demo"])
    )
    if op.operation_id == "dead_letters_redrive_many":
        world.objects["dead_letter_id"] = _object_dead_letter(op, world)
    for name in op.path_params:
        world.objects[name] = OBJECTS[name](op, world)
    # What the right tenant owns whatever the operation: lists must never show it to another.
    account = _vended_account()
    world.belongings = [
        *world.objects.values(),
        _request(world.right.client_id, tags__project_short_name="owned"),
        str(account.id),
        str(account.aws_account_id),
        _object_subscription(op, world),
    ]
    return world


def _bearer(token: str | None) -> APIClient:
    api = APIClient()
    if token:
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return api


def _call(api: APIClient, op: Operation, world: World) -> Any:
    path = op.path
    for name, value in world.objects.items():
        path = path.replace("{" + name + "}", value)
    headers = {f"HTTP_{name.upper()}": value for name, value in HEADERS.get(op.operation_id, {}).items()}
    query = QUERIES[op.operation_id](world) if op.operation_id in QUERIES else None
    if query:
        path = f"{path}?{urlencode(query)}"
    if op.method in ("get", "delete"):
        return getattr(api, op.method)(path, **headers)
    body = BODIES[op.operation_id](world)
    return getattr(api, op.method)(path, body, format="json", **headers)


def _token_for(caller: str, op: Operation, world: World) -> str | None:
    if caller == "no_token":
        return None
    if caller == "right_client":
        return world.right.token
    if caller == "expired":
        ApiToken.objects.filter(prefix=world.right.prefix).update(expires_at=clock.now() - timedelta(seconds=1))
        return world.right.token
    if caller == "missing_scope":
        others = [scope for scope in clients.ALL_SCOPES if scope not in op.scopes]
        return _client(others, payers=["demo"]).token
    assert caller == "other_tenant"
    return _client(list(clients.ALL_SCOPES), payers=["sandbox"]).token


def _expected(caller: str, op: Operation) -> set[int] | None:
    """The statuses ``caller`` may get; None: the case does not apply."""
    legacy = not op.path.startswith(("/v1/", "/metrics"))  # the legacy facade: the original service's paths
    if caller in ("no_token", "expired"):
        return {403} if legacy else {401}  # the legacy facade refuses as API Gateway did
    if caller == "missing_scope":
        return {403} if op.scopes else None
    if caller == "other_tenant":
        if op.all_payers:
            return {403}
        if op.path_params:
            return {404}
        if op.operation_id in NAMES_A_PAYER:
            return {403}
        if op.operation_id in NAMES_AN_OBJECT:
            return {404}
        return {200, 201, 202, 204, 207}
    return RIGHT_CLIENT.get(op.operation_id, {200, 201, 202, 204, 207})


CASES = [
    pytest.param(op, caller, id=f"{op.operation_id}-{caller}")
    for op in OPERATIONS
    if op.authenticated
    for caller in CALLERS
    if _expected(caller, op) is not None
]


def test_the_matrix_covers_every_operation_of_the_schema() -> None:
    documented = {op.operation_id for op in OPERATIONS if op.authenticated}
    assert {case.values[0].operation_id for case in CASES} == documented  # type: ignore[union-attr]
    assert len(documented) >= 32
    assert any(op.path.startswith("/v1/") is False for op in OPERATIONS)  # the legacy facade is in it


def test_every_operation_has_its_objects_and_body() -> None:
    """A new endpoint joins the matrix by itself; it only needs its path's objects and a body."""
    for op in OPERATIONS:
        if not op.authenticated:
            continue
        missing = [name for name in op.path_params if name not in OBJECTS]
        assert not missing, f"{op.operation_id}: add a maker to OBJECTS for {missing}"
        if op.method in ("post", "put", "patch"):
            assert op.operation_id in BODIES, f"{op.operation_id}: add its body to BODIES"


@pytest.mark.parametrize(("op", "caller"), CASES)
def test_authorization(op: Operation, caller: str, settings: Any, request: pytest.FixtureRequest) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_CLASSES": []}
    member = _organization_member(request) if op.operation_id in NEEDS_AWS and caller == "right_client" else None
    world = _world(op)
    if member:
        world.objects["organization_member"] = member
    expected = _expected(caller, op)
    assert expected is not None

    response = _call(_bearer(_token_for(caller, op, world)), op, world)

    assert response.status_code in expected, (caller, op.method, op.path, response.content[:400])
    body = response.content.decode()
    if caller == "expired" and op.path.startswith("/v1/"):
        assert response.json()["code"] == "token_expired"
    if caller == "other_tenant":
        # (a 404 may repeat the id the caller sent; nothing else of the tenant may appear)
        for value in set(world.belongings) - set(world.objects.values()):
            assert value not in body, f"{op.operation_id} shows another tenant's {value}"

"""A subscription receives only what its client may see (apps/notifications/audience.py).

Before: every subscription received every client's events — another tenant's run events
with their step outputs, and every dead letter with its error text.
"""

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from django.db import transaction

from apps.accounts.contracts import AccountDrifted
from apps.clients.contracts import OPERATIONS_ADMIN, REQUESTS_READ, REQUESTS_WRITE, WEBHOOKS_ADMIN
from apps.clients.models import ApiClient
from apps.clients.models import PayerGrant as PayerGrantRow
from apps.compliance.contracts import AccountNonCompliant
from apps.kernel import clock
from apps.kernel.contracts import DeadLetterCreated, Event, StepFailed, StepSucceeded
from apps.kernel.models import OutboxMessage
from apps.notifications import handlers
from apps.notifications.models import WebhookDelivery
from apps.notifications.services import deliveries_create_for_event, subscription_create
from apps.workflow.contracts import ACCOUNT_COMMAND, RunFailed, RunStarted, RunSucceeded
from apps.workflow.models import Run
from tasks import consumers
from tasks.subscriptions import COMMAND_HANDLERS
from tests.notifications.conftest import ACME, TENANT_SCOPES, MakeClient, Tenant, account_command, managed_account
from tests.support.webhooks import Receiver, webhook_receiver

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Subscribers:
    """One subscription (to every event type) per client, by the client's role."""

    a: str  # tenant A's client (payer demo)
    b: str  # tenant B's client (payer acme)
    a_colleague: str  # another client of demo: reads its accounts, made none of its requests
    a_prd_only: str  # a client of demo narrowed to the prd environment
    a_no_account_read: str  # a client of demo that may not read accounts
    demo_operator: str  # operations:admin, granted demo only
    global_operator: str  # operations:admin, every payer

    def all(self) -> dict[str, str]:
        return dict(vars(self))


@pytest.fixture
def subscribers(tenant_a: Tenant, tenant_b: Tenant, make_client: MakeClient) -> Subscribers:
    def subscribe(client_id: str, name: str) -> str:
        url = f"https://hooks.example.com/{name}"
        return subscription_create(client_id=client_id, url=url).subscription.id

    return Subscribers(
        a=subscribe(tenant_a.client_id, "a"),
        b=subscribe(tenant_b.client_id, "b"),
        a_colleague=subscribe(make_client(payers=("demo",)), "a-colleague"),
        a_prd_only=subscribe(make_client(payers=("demo:prd",)), "a-prd-only"),
        a_no_account_read=subscribe(make_client(REQUESTS_READ, REQUESTS_WRITE, WEBHOOKS_ADMIN), "a-no-read"),
        demo_operator=subscribe(make_client(*TENANT_SCOPES, OPERATIONS_ADMIN, payers=("demo",)), "demo-op"),
        global_operator=subscribe(make_client(OPERATIONS_ADMIN, WEBHOOKS_ADMIN, all_payers=True), "global-op"),
    )


Hears = Callable[[Event], set[str]]


@pytest.fixture
def hears(subscribers: Subscribers) -> Hears:
    """``hears(event)``: the roles whose subscription got a delivery of ``event``."""
    role_of = {subscription_id: role for role, subscription_id in subscribers.all().items()}

    def handle(event: Event) -> set[str]:
        deliveries_create_for_event(event=event)  # type: ignore[arg-type]
        return {role_of[d.subscription_id] for d in WebhookDelivery.objects.filter(event_id=event.message_id)}

    return handle


REQUEST_AUDIENCE_A = {"a", "demo_operator", "global_operator"}
REQUEST_AUDIENCE_B = {"b", "global_operator"}


def test_a_request_s_run_events_reach_its_client_and_operators_covering_its_payer(
    hears: Hears, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    for tenant, audience in ((tenant_a, REQUEST_AUDIENCE_A), (tenant_b, REQUEST_AUDIENCE_B)):
        run = Run.objects.create(id=f"run-{tenant.payer}", request_id=tenant.request_id, started_at=clock.now())
        events: list[Event] = [
            RunStarted(run_id=run.id, request_id=tenant.request_id),
            StepSucceeded(run_id=run.id, step="vpc", attempts=1, outputs={"cidr": "10.0.0.0/24"}),
            StepFailed(run_id=run.id, step="dns", attempts=3, error_code="Throttling", message="gave up"),
            RunSucceeded(run_id=run.id, request_id=tenant.request_id, outputs={"account_id": "123456789012"}),
            RunFailed(run_id=run.id, request_id=tenant.request_id, step="vpc", error_code="E", message="m"),
        ]
        for event in events:
            assert hears(event) == audience, (tenant.payer, event.type_name())


def test_payloads_carry_nothing_of_the_other_tenant(
    hears: Hears, subscribers: Subscribers, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    for tenant in (tenant_a, tenant_b):
        hears(RunSucceeded(run_id=f"run-{tenant.payer}", request_id=tenant.request_id, outputs={"who": tenant.payer}))

    def payloads(subscription_id: str) -> str:
        return json.dumps([d.payload for d in WebhookDelivery.objects.filter(subscription_id=subscription_id)])

    assert tenant_a.request_id in payloads(subscribers.a)
    assert tenant_b.request_id not in payloads(subscribers.a)
    assert ACME not in payloads(subscribers.a)
    assert tenant_b.request_id in payloads(subscribers.b)
    assert tenant_a.request_id not in payloads(subscribers.b)


def test_a_client_whose_grant_no_longer_covers_its_request_hears_nothing_of_it(hears: Hears, tenant_a: Tenant) -> None:
    PayerGrantRow.objects.filter(client_id=tenant_a.client_id).update(environments=["prd"])  # the request is dev

    assert hears(RunStarted(run_id="run-1", request_id=tenant_a.request_id)) == {"demo_operator", "global_operator"}


def test_an_inactive_client_hears_nothing(hears: Hears, tenant_a: Tenant) -> None:
    ApiClient.objects.filter(id=tenant_a.client_id).update(active=False)

    assert "a" not in hears(RunStarted(run_id="run-1", request_id=tenant_a.request_id))


ACCOUNT_AUDIENCE_DEMO_DEV = {"a", "a_colleague", "demo_operator", "global_operator"}


def test_a_command_s_run_events_reach_clients_covering_the_account_and_its_issuer(
    hears: Hears, tenant_a: Tenant, make_client: MakeClient, subscribers: Subscribers
) -> None:
    account = managed_account(payer="demo", environment="dev", aws_account_id="111122223333")
    command = account_command(account, client_id=tenant_a.client_id)
    run = Run.objects.create(id="run-cmd", request_id=command.id, kind=ACCOUNT_COMMAND, started_at=clock.now())

    for event in (
        RunStarted(run_id=run.id, request_id=command.id, kind=ACCOUNT_COMMAND),
        StepSucceeded(run_id=run.id, step="iam", attempts=1, outputs={"roles": ["bespoke-admin"]}),
        RunSucceeded(run_id=run.id, request_id=command.id, kind=ACCOUNT_COMMAND),
    ):
        assert hears(event) == ACCOUNT_AUDIENCE_DEMO_DEV, event.type_name()


def test_the_issuer_of_a_command_hears_of_it_without_reading_accounts(payer: object, make_client: MakeClient) -> None:
    account = managed_account(payer="demo", environment="dev", aws_account_id="111122223333")
    issuer = make_client(REQUESTS_READ, WEBHOOKS_ADMIN, "accounts:admin", payers=("demo",))
    bystander = make_client(REQUESTS_READ, WEBHOOKS_ADMIN, "accounts:admin", payers=("demo",))
    for client_id in (issuer, bystander):
        subscription_create(client_id=client_id, url="https://hooks.example.com/x")
    command = account_command(account, client_id=issuer)

    deliveries_create_for_event(
        event=RunFailed(
            run_id="r", request_id=command.id, kind=ACCOUNT_COMMAND, step="iam", error_code="E", message="m"
        )
    )

    assert [d.subscription.client_id for d in WebhookDelivery.objects.select_related("subscription")] == [issuer]


def test_account_events_reach_clients_covering_the_account_s_payer_and_environment(hears: Hears) -> None:
    demo_dev = managed_account(payer="demo", environment="dev", aws_account_id="111122223333")
    acme_prd = managed_account(payer=ACME, environment="prd", aws_account_id="444455556666")

    drifted_demo = AccountDrifted(
        account_id=demo_dev.id, aws_account_id="111122223333", payer="demo", kind="moved", detail="to ou-x"
    )
    non_compliant_demo = AccountNonCompliant(
        snapshot_id="s-1", aws_account_id="111122223333", payer="demo", rules=["r"], new_rules=["r"]
    )
    drifted_acme = AccountDrifted(
        account_id=acme_prd.id, aws_account_id="444455556666", payer=ACME, kind="closed", detail="suspended"
    )

    assert hears(drifted_demo) == ACCOUNT_AUDIENCE_DEMO_DEV
    assert hears(non_compliant_demo) == ACCOUNT_AUDIENCE_DEMO_DEV
    assert hears(drifted_acme) == {"b", "global_operator"}


def test_an_account_of_unknown_environment_is_covered_only_by_grants_of_its_whole_payer(hears: Hears) -> None:
    discovered = managed_account(payer="demo", environment="", aws_account_id="777788889999")

    event = AccountDrifted(
        account_id=discovered.id, aws_account_id="777788889999", payer="demo", kind="discovered", detail="unknown"
    )
    unknown_account = AccountNonCompliant(snapshot_id="s-2", aws_account_id="000011112222", payer="demo")

    assert hears(event) == ACCOUNT_AUDIENCE_DEMO_DEV  # not a_prd_only
    assert hears(unknown_account) == ACCOUNT_AUDIENCE_DEMO_DEV


def test_dead_letters_reach_only_operators_of_every_payer(hears: Hears) -> None:
    event = DeadLetterCreated(
        dead_letter_id="dl-1",
        handler="network.run_step",
        message_type="RunStep",
        error_code="AccessDenied",
        error="arn:aws:iam::111111111111:role/secret-internal-role is not authorized",
        attempts=9,
    )
    with transaction.atomic():
        handlers.on_dead_letter(event)

    assert hears(event) == {"global_operator"}


# --- End to end: two tenants, two receivers ---------------------------------------------------


@pytest.fixture
def receivers() -> Iterator[tuple[Receiver, Receiver]]:
    with webhook_receiver() as first, webhook_receiver() as second:
        yield first, second


def test_two_tenants_each_receive_only_their_own(
    tenant_a: Tenant, tenant_b: Tenant, receivers: tuple[Receiver, Receiver]
) -> None:
    receiver_a, receiver_b = receivers
    subscription_create(client_id=tenant_a.client_id, url=receiver_a.url)
    subscription_create(client_id=tenant_b.client_id, url=receiver_b.url)
    for tenant in (tenant_a, tenant_b):
        for event in (
            RunStarted(run_id=f"run-{tenant.payer}", request_id=tenant.request_id),
            RunSucceeded(run_id=f"run-{tenant.payer}", request_id=tenant.request_id, outputs={"secret_output": "x"}),
        ):
            with transaction.atomic():
                handlers.on_run_event(event)

    runner = COMMAND_HANDLERS["DeliverWebhook"]
    for command in OutboxMessage.objects.filter(type="DeliverWebhook"):
        consumers.run_step(runner, command.envelope, attempt=1, retry_delay=None)

    def requests_named(receiver: Receiver) -> set[str]:
        return {json.loads(r.body)["data"]["request_id"] for r in receiver.requests}

    assert len(receiver_a.requests) == len(receiver_b.requests) == 2
    assert requests_named(receiver_a) == {tenant_a.request_id}
    assert requests_named(receiver_b) == {tenant_b.request_id}

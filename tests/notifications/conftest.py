"""Two tenants by default: payer ``demo`` with its client (tenant A) and payer ``acme`` with
its client (tenant B), each with a request of its own — so every webhook test can ask
"and does the other tenant hear of it?" in one line."""

from collections.abc import Callable
from dataclasses import dataclass
from itertools import count

import pytest

from apps.accounts import api as accounts
from apps.accounts.models import AccountCommand, ManagedAccount, Payer
from apps.clients import api as clients
from apps.clients.contracts import ACCOUNTS_ADMIN, ACCOUNTS_READ, REQUESTS_READ, REQUESTS_WRITE, WEBHOOKS_ADMIN
from apps.intake.services import request_create
from apps.kernel import clock, ids
from tests.support import factories
from tests.support.factories import request_body

# What a tenant's own client holds: everything but operating Bespoke.
TENANT_SCOPES = (REQUESTS_READ, REQUESTS_WRITE, ACCOUNTS_READ, ACCOUNTS_ADMIN, WEBHOOKS_ADMIN)
ACME = "acme"

MakeClient = Callable[..., str]


@dataclass(frozen=True)
class Tenant:
    payer: str
    client_id: str
    request_id: str  # a request the client made (environment "dev")


@pytest.fixture
def acme(db: None) -> accounts.PayerSummary:
    """A second payer, ``acme``, for tenant B (offline, like ``payer``)."""
    factories.payer(
        ACME,
        management_account_id="222222222222",
        email_division="acme",
        email_domain="example.org",
        allowed_environments=["dev", "prd"],
        allowed_regions=["us-east-1"],
    )
    summary = accounts.payer_get(name=ACME)
    assert summary is not None
    return summary


@pytest.fixture
def make_client(db: None) -> MakeClient:
    """``make_client(*scopes, payers=("demo",), all_payers=False)``: a new API client's id."""
    numbers = count()

    def make(*scopes: str, payers: tuple[str, ...] = ("demo",), all_payers: bool = False) -> str:
        issued = clients.client_create(
            name=f"tenant-client-{next(numbers)}",
            scopes=list(scopes or TENANT_SCOPES),
            payers=() if all_payers else payers,
            all_payers=all_payers,
        )
        return issued.client_id

    return make


@pytest.fixture
def tenant_a(payer: accounts.PayerSummary, make_client: MakeClient) -> Tenant:
    client_id = make_client(payers=("demo",))
    request = request_create(client_id=client_id, data=request_body())
    return Tenant(payer="demo", client_id=client_id, request_id=request.id)


@pytest.fixture
def tenant_b(acme: accounts.PayerSummary, make_client: MakeClient) -> Tenant:
    client_id = make_client(payers=(ACME,))
    request = request_create(client_id=client_id, data=request_body(payer=ACME, tags__project_short_name="acmeapp"))
    return Tenant(payer=ACME, client_id=client_id, request_id=request.id)


def managed_account(*, payer: str, environment: str, aws_account_id: str) -> ManagedAccount:
    """An active managed account of ``payer`` in ``environment``."""
    now = clock.now()
    return ManagedAccount.objects.create(
        id=ids.new_id(),
        payer=Payer.objects.get(name=payer),
        email=f"aws.{aws_account_id}@example.com",
        name=f"account-{aws_account_id}",
        environment=environment,
        aws_account_id=aws_account_id,
        status=ManagedAccount.Status.ACTIVE,
        created_at=now,
        updated_at=now,
    )


def account_command(account: ManagedAccount, *, client_id: str, command: str = "reapply") -> AccountCommand:
    return AccountCommand.objects.create(
        id=ids.new_id(), account=account, command=command, client_id=client_id, created_at=clock.now()
    )

import io
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command

from apps.accounts import api as accounts
from tests.legacy.signing import SignedClient
from tests.support import factories

PAYER = "acme-main"  # the payer of Tailor's own example request


@pytest.fixture
def acme(db: None) -> accounts.PayerSummary:
    summary: accounts.PayerSummary = factories.payer(PAYER, email_division="acme", email_domain="mycompany.com")
    return summary


def create_client(name: str, *args: str) -> dict[str, str]:
    """``manage.py create_client NAME ARGS… --sigv4``; what it printed, by its ``key=value`` lines."""
    out = io.StringIO()
    call_command("create_client", name, *args, "--sigv4", stdout=out)
    lines = out.getvalue().splitlines()
    printed = dict(line.split("=", 1) for line in lines if "=" in line and " " not in line)
    printed["token"] = lines[1]
    return printed


@pytest.fixture
def make_signed(acme: accounts.PayerSummary) -> Callable[..., SignedClient]:
    """A Tailor client with ``scopes`` (default: every one), granted ``payers`` (default: acme-main)."""
    counter = iter(range(1_000_000))

    def make(*scopes: str, payers: tuple[str, ...] = (PAYER,), region: str = "us-east-1") -> SignedClient:
        chosen = scopes or ("requests:read", "requests:write", "accounts:read", "accounts:admin")
        args: list[Any] = []
        for scope in chosen:
            args += ["--scope", scope]
        for payer in payers:
            args += ["--payer", payer]
        printed = create_client(f"tailor-{next(counter)}", *args)
        return SignedClient(printed["access_key_id"], printed["secret_access_key"], region=region)

    return make


@pytest.fixture
def signed(make_signed: Callable[..., SignedClient]) -> SignedClient:
    return make_signed()

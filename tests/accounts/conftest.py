"""Fixtures of the accounts context's tests."""

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from apps.accounts import api as accounts
from apps.accounts.models import ManagedAccount
from apps.kernel import clock
from tests.support.bus import drain
from tests.support.factories import request_body


@dataclass
class FakeClock:
    """The kernel clock, moved by the test (thread-safe: workers in threads share it)."""

    moment: datetime = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> datetime:
        with self.lock:
            return self.moment

    def advance(self, seconds: float) -> None:
        with self.lock:
            self.moment += timedelta(seconds=seconds)


@pytest.fixture
def fake_clock() -> Iterator[FakeClock]:
    fake = FakeClock()
    clock.set_source(fake.now)
    yield fake
    clock.set_source(None)


# --- Vended accounts and commands through the API, messages delivered by drain() --------

BASELINE = {"steps": [{"name": "iam"}, {"name": "cloudtrail"}, {"name": "config"}]}


@dataclass
class Vended:
    request_id: str
    account_id: str  # Bespoke's id
    aws_account_id: str


@pytest.fixture
def vend(api: Any, payer_settings: dict[str, str]) -> Callable[..., Vended]:
    """``vend(**body overrides)``: an account vended through the API with the demo payer's
    baseline blueprint (IAM, CloudTrail, Config), the whole run completed."""
    accounts.blueprint_save(payer_name="demo", name="baseline", definition=BASELINE)

    def make(**overrides: Any) -> Vended:
        response = api.post("/v1/account-requests", request_body(**overrides), format="json")
        assert response.status_code == 202, response.json()
        request_id = str(response.json()["id"])
        drain()
        status = api.get(f"/v1/account-requests/{request_id}").json()
        assert status["status"] == "succeeded", status
        account = ManagedAccount.objects.get(request_id=request_id)
        return Vended(request_id=request_id, account_id=account.id, aws_account_id=account.aws_account_id)

    return make

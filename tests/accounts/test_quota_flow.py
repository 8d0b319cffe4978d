"""Many account requests through the whole flow under the Organizations quotas, with
messages delivered synchronously and retries scheduled on the kernel clock, which the
test moves instead of sleeping (like ``tests.support.bus.drain``, plus what the broker
does with a retry's countdown)."""

import heapq
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core import mail
from rest_framework.test import APIClient

from apps.accounts import api as accounts
from apps.accounts.models import ManagedAccount
from apps.accounts.steps import aws as accounts_aws
from apps.kernel import clock
from apps.kernel.models import OutboxMessage
from apps.kernel.steps import RetryLater
from tasks.consumers import handle_event, run_step
from tasks.subscriptions import Subscriber, subscribers_for
from tests.accounts.conftest import FakeClock
from tests.support.factories import request_body
from tests.support.faults import inject

pytestmark = pytest.mark.django_db

MAX_ATTEMPTS = 8


@dataclass(order=True)
class _Retry:
    due: datetime
    order: int
    subscriber: Subscriber = field(compare=False)
    envelope: dict[str, Any] = field(compare=False)
    attempt: int = field(compare=False)


@dataclass
class Broker:
    """Delivers recorded messages at once and retries when their countdown is due."""

    fake_clock: FakeClock
    retries: list[_Retry] = field(default_factory=list)
    counter: Iterator[int] = field(default_factory=itertools.count)

    def deliver(self, *, advance_clock: bool, max_rounds: int = 1000) -> None:
        for _ in range(max_rounds):
            pending = list(OutboxMessage.objects.filter(published_at__isnull=True).order_by("sequence"))
            if pending:
                for message in pending:
                    OutboxMessage.objects.filter(pk=message.pk).update(published_at=clock.now())
                    for subscriber in subscribers_for(message.envelope):
                        self._run(subscriber, message.envelope, attempt=1)
            elif self.retries and (advance_clock or self.retries[0].due <= clock.now()):
                retry = heapq.heappop(self.retries)
                if retry.due > clock.now():
                    self.fake_clock.advance((retry.due - clock.now()).total_seconds())
                self._run(retry.subscriber, retry.envelope, attempt=retry.attempt)
            else:
                return
        raise AssertionError("Messages kept coming.")

    def _run(self, subscriber: Subscriber, envelope: dict[str, Any], *, attempt: int) -> None:
        if not subscriber.runner:
            handle_event(subscriber, envelope)
            return
        try:
            run_step(subscriber, envelope, attempt=attempt, retry_delay=1.0 if attempt < MAX_ATTEMPTS else None)
        except RetryLater as later:
            again = attempt + 1 if getattr(later, "counts", True) else attempt
            due = clock.now() + timedelta(seconds=later.delay)
            heapq.heappush(self.retries, _Retry(due, next(self.counter), subscriber, envelope, again))


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[datetime]]:
    """When (on the kernel clock) each CreateAccount and status poll reached Organizations."""
    made: dict[str, list[datetime]] = {"CreateAccount": [], "DescribeCreateAccountStatus": []}
    real = accounts_aws.organizations

    def observed(payer: Any) -> Any:
        client = real(payer)
        for operation, times in made.items():
            # Clients are reused: registered once per client (the unique id), observed once per call.
            client.meta.events.register(
                f"before-call.organizations.{operation}",
                lambda times=times, **_: times.append(clock.now()),
                unique_id=f"quota-flow-observes-{operation}",
            )
        return client

    monkeypatch.setattr(accounts_aws, "organizations", observed)
    return made


def assert_within_rate(times: list[datetime], *, rate: float, burst: int) -> None:
    """No window of time saw more calls than the bucket allows: burst + rate x length."""
    ordered = sorted(times)
    for i, j in itertools.combinations(range(len(ordered)), 2):
        length = (ordered[j] - ordered[i]).total_seconds()
        assert j - i + 1 <= burst + rate * length + 1e-6, (i, j, ordered)


def submit(api: APIClient, short_name: str) -> str:
    response = api.post("/v1/account-requests", request_body(tags__project_short_name=short_name), format="json")
    assert response.status_code == 202, response.json()
    return str(response.json()["id"])


def create_account_step(api: APIClient, request_id: str) -> dict[str, Any]:
    status = api.get(f"/v1/account-requests/{request_id}").json()
    return next(step for step in status["steps"] if step["name"] == "create_account")


def test_requests_beyond_the_quotas_wait_their_turn_and_all_complete(
    api: APIClient,
    demo_payer: Any,
    settings: Any,
    fake_clock: FakeClock,
    calls: dict[str, list[datetime]],
) -> None:
    settings.ORGANIZATIONS_MAX_CREATIONS_IN_FLIGHT = 2
    settings.ORGANIZATIONS_CREATE_ACCOUNT_RATE = 0.1
    settings.ORGANIZATIONS_CREATE_ACCOUNT_BURST = 3
    settings.ORGANIZATIONS_STATUS_POLL_RATE = 2.0
    settings.ORGANIZATIONS_STATUS_POLL_BURST = 2
    inject(settings, "organizations:DescribeCreateAccountStatus:in_progress=3")
    broker = Broker(fake_clock)
    requests = [submit(api, f"quota{index}") for index in range(5)]

    broker.deliver(advance_clock=False)  # everything that can happen without time passing

    assert len(calls["CreateAccount"]) == 2
    waiting = [create_account_step(api, request_id) for request_id in requests[2:]]
    assert all(step["state"] == "running" for step in waiting)
    assert all("account creations are in flight in this organization" in step["message"] for step in waiting)
    assert {step["attempts"] for step in waiting} == {1}

    broker.deliver(advance_clock=True)

    statuses = [api.get(f"/v1/account-requests/{request_id}").json() for request_id in requests]
    assert [status["status"] for status in statuses] == ["succeeded"] * 5
    assert len(calls["CreateAccount"]) == 5
    assert accounts.creations_in_flight_peak() == 2
    assert all(released is not None for _, released in accounts.creation_slot_intervals())
    assert_within_rate(calls["CreateAccount"], rate=0.1, burst=3)
    assert_within_rate(calls["DescribeCreateAccountStatus"], rate=2.0, burst=2)
    # Waiting for a quota used up no attempts: each creation ran as its first attempt.
    assert {create_account_step(api, request_id)["attempts"] for request_id in requests} == {1}


@pytest.mark.parametrize(
    ("fault", "failing_step", "attempts"),
    [
        ("organizations:CreateAccount:failed=EMAIL_ALREADY_EXISTS", "create_account", 1),
        (
            "organizations:DescribeCreateAccountStatus:in_progress=2,"
            "organizations:DescribeCreateAccountStatus:failed=EMAIL_ALREADY_EXISTS",
            "wait_account",
            1,  # two polls in progress (waits, not attempts), then FAILED: not retried
        ),
    ],
)
def test_a_creation_reported_failed_fails_the_run_with_the_reason_and_frees_the_slot(
    api: APIClient,
    demo_payer: Any,
    settings: Any,
    fake_clock: FakeClock,
    fault: str,
    failing_step: str,
    attempts: int,
) -> None:
    settings.ORGANIZATIONS_MAX_CREATIONS_IN_FLIGHT = 1
    inject(settings, fault)
    broker = Broker(fake_clock)
    failed, following = submit(api, "doomed"), submit(api, "next")

    broker.deliver(advance_clock=True)

    status = api.get(f"/v1/account-requests/{failed}").json()
    assert status["status"] == "failed"
    assert "EMAIL_ALREADY_EXISTS" in status["failure"]
    step = next(step for step in status["steps"] if step["name"] == failing_step)
    assert (step["state"], step["attempts"]) == ("failed", attempts)
    account = ManagedAccount.objects.get(request_id=failed)
    assert (account.status, account.failure_reason) == (ManagedAccount.Status.FAILED, "EMAIL_ALREADY_EXISTS")
    assert account.slot_released_at is not None
    # The requester is told why.
    told = [m for m in mail.outbox if "john.doe@example.com" in m.to and "EMAIL_ALREADY_EXISTS" in m.body]
    assert len([m for m in told if failed in m.body]) == 1
    # The slot it gave back let the next request in; under this fault it fails the same way.
    assert ManagedAccount.objects.get(request_id=following).slot_taken_at is not None

"""A step claims its execution before any side effect: two deliveries of ``create_account``
(a redelivery, and the stuck-run sweeper's re-dispatch with a new message id) racing a
first one that is still running create one account, not two."""

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from celery.exceptions import Retry
from django.db import connection

from apps.accounts import api as accounts
from apps.accounts.models import ManagedAccount
from apps.accounts.steps import aws as accounts_aws
from apps.intake.services import request_create
from apps.kernel import clock
from apps.kernel.models import OutboxMessage, StepLease
from apps.workflow import api as workflow
from project.celery import app
from tasks import consumers
from tasks.subscriptions import EVENT_SUBSCRIBERS
from tests.conftest import EmulatedAws
from tests.support.factories import request_body

pytestmark = pytest.mark.django_db(transaction=True)

CLIENT = "00000000-0000-4000-8000-00000000c11e"
[ON_ACCOUNT_REQUESTED] = EVENT_SUBSCRIBERS["AccountRequested"]


def deliver(envelope: dict[str, Any], **kwargs: Any) -> None:
    """One delivery to ``accounts.run_step`` as a worker makes it (a retry raises ``Retry``)."""
    task = app.tasks["accounts.run_step"]
    task.push_request(args=[envelope], kwargs=kwargs, called_directly=False, is_eager=True)
    try:
        task.run(envelope, **kwargs)
    finally:
        task.pop_request()


def run_steps() -> list[dict[str, Any]]:
    return [row.envelope for row in OutboxMessage.objects.filter(type="RunStep").order_by("sequence")]


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def moving_clock() -> Iterator[Clock]:
    moving = Clock()
    clock.set_source(lambda: moving.now)
    yield moving
    clock.set_source(None)


class GatedOrganizations:
    """The payer's Organizations client; the first delivery's call of ``gated`` (a method
    name, with its first argument if given: ``get_paginator:list_accounts``) stops there
    until the gate opens. Counts CreateAccount calls."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, gated: str) -> None:
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.create_calls = 0
        self.gated, _, self.gated_argument = gated.partition(":")
        self.first: threading.Thread | None = None
        real = accounts_aws.organizations
        outer = self

        class Client:
            def __init__(self, org: Any) -> None:
                self._org = org

            def __getattr__(self, name: str) -> Any:
                method = getattr(self._org, name)
                if name != outer.gated and name != "create_account":
                    return method

                def call(*args: Any, **kwargs: Any) -> Any:
                    if name == "create_account":
                        outer.create_calls += 1
                    argument_matches = not outer.gated_argument or args[:1] == (outer.gated_argument,)
                    if name == outer.gated and argument_matches and threading.current_thread() is outer.first:
                        outer.entered.set()
                        assert outer.gate.wait(timeout=60)
                    return method(*args, **kwargs)

                return call

        monkeypatch.setattr(accounts_aws, "organizations", lambda payer: Client(real(payer)))


@pytest.fixture
def started(demo_payer: accounts.PayerSummary, settings: Any) -> tuple[str, dict[str, Any]]:
    settings.ORGANIZATIONS_CREATE_ACCOUNT_BURST = 100
    settings.ORGANIZATIONS_STATUS_POLL_BURST = 100
    request_id = request_create(client_id=CLIENT, data=request_body()).id
    [requested] = [row.envelope for row in OutboxMessage.objects.filter(type="AccountRequested")]
    consumers.handle_event(ON_ACCOUNT_REQUESTED, requested)
    [command] = run_steps()
    assert command["payload"]["step"] == "create_account"
    return request_id, command


def first_delivery(command: dict[str, Any], errors: list[BaseException]) -> threading.Thread:
    def run() -> None:
        try:
            deliver(command)
        except BaseException as error:  # reported to the test
            errors.append(error)
        finally:
            connection.close()

    return threading.Thread(target=run, name="first-delivery")


def member_accounts(aws: EmulatedAws, email: str) -> list[dict[str, Any]]:
    return [a for a in aws.client("organizations").list_accounts()["Accounts"] if a["Email"] == email]


def test_a_redelivery_and_the_sweepers_redispatch_wait_for_the_running_first_and_one_account_is_created(
    started: tuple[str, dict[str, Any]], aws: EmulatedAws, monkeypatch: pytest.MonkeyPatch, moving_clock: Clock
) -> None:
    request_id, command = started
    org = GatedOrganizations(monkeypatch, gated="create_account")
    errors: list[BaseException] = []
    first = org.first = first_delivery(command, errors)
    first.start()
    assert org.entered.wait(timeout=60)  # the first is inside CreateAccount

    with pytest.raises(Retry) as redelivered:  # the broker gives the same message again
        deliver(command)
    assert redelivered.value.sig.kwargs["attempt"] == 1  # waiting uses up no attempt

    moving_clock.advance(901)  # no progress for longer than the stuck-run deadline
    assert workflow.run_sweep_stuck(deadline_seconds=900, max_redispatches=2)["redispatched"] == 1
    redispatch = run_steps()[-1]
    assert redispatch["message_id"] != command["message_id"]
    with pytest.raises(Retry):
        deliver(redispatch)
    assert org.create_calls == 1

    org.gate.set()
    first.join(timeout=60)
    assert errors == []

    deliver(redispatch)  # the first finished: the re-dispatch finds the account created
    assert org.create_calls == 1
    account = ManagedAccount.objects.get(request_id=request_id)
    assert len(member_accounts(aws, account.email)) == 1
    assert StepLease.objects.get(step="create_account").released_at is not None


def test_a_first_delivery_whose_lease_ran_out_does_not_create_a_second_account(
    started: tuple[str, dict[str, Any]],
    aws: EmulatedAws,
    monkeypatch: pytest.MonkeyPatch,
    moving_clock: Clock,
    settings: Any,
) -> None:
    request_id, command = started
    # It stops after finding no account of its own, right before CreateAccount.
    org = GatedOrganizations(monkeypatch, gated="get_paginator:list_create_account_status")
    errors: list[BaseException] = []
    first = org.first = first_delivery(command, errors)
    first.start()
    assert org.entered.wait(timeout=60)

    moving_clock.advance(settings.STEP_LEASE_SECONDS + 1)  # the first stalled past its lease
    assert workflow.run_sweep_stuck(deadline_seconds=900, max_redispatches=2)["redispatched"] == 1
    deliver(run_steps()[-1])  # takes the step over and creates the account
    assert org.create_calls == 1

    org.gate.set()
    first.join(timeout=60)
    assert errors == []

    assert org.create_calls == 1  # the first checked its lease before CreateAccount
    assert StepLease.objects.get(step="create_account").fence == 2
    account = ManagedAccount.objects.get(request_id=request_id)
    assert len(member_accounts(aws, account.email)) == 1
    assert OutboxMessage.objects.filter(type="StepSucceeded").count() == 1

"""Fixtures of the dead-letter tests: a fixed clock, what redriving sends, a started run,
mail through the emulated SES, a webhook receiver and an operator's API client."""

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends
from rest_framework.test import APIClient

from apps.accounts import api as accounts
from apps.intake.services import request_create
from apps.kernel import clock
from apps.notifications import api as notifications
from project.celery import app
from tasks import consumers
from tests.conftest import EmulatedAws
from tests.support.deadletters import AT, CLIENT, ON_ACCOUNT_REQUESTED, SENDER, SentMail, outbox
from tests.support.factories import request_body
from tests.support.webhooks import Receiver, webhook_receiver


@pytest.fixture
def fixed_clock() -> Iterator[datetime]:
    clock.set_source(lambda: AT)
    yield AT
    clock.set_source(None)


@pytest.fixture
def sent_tasks(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, list[Any], str]]:
    """What redriving sends to the broker: (task name, args, queue)."""
    sent: list[tuple[str, list[Any], str]] = []

    def send_task(name: str, *, args: list[Any], queue: str, **options: Any) -> None:
        sent.append((name, args, queue))

    monkeypatch.setattr(app, "send_task", send_task)
    return sent


@pytest.fixture
def quotas_out_of_the_way(settings: Any) -> None:
    settings.ORGANIZATIONS_CREATE_ACCOUNT_BURST = 100
    settings.ORGANIZATIONS_STATUS_POLL_BURST = 100


@pytest.fixture
def started(demo_payer: accounts.PayerSummary, quotas_out_of_the_way: None) -> tuple[str, dict[str, Any]]:
    """A request whose run started: its id and the ``RunStep`` for ``create_account``."""
    request_id = request_create(client_id=CLIENT, data=request_body()).id
    [requested] = outbox("AccountRequested")
    consumers.handle_event(ON_ACCOUNT_REQUESTED, requested)
    [command] = outbox("RunStep")
    assert command["payload"]["step"] == "create_account"
    return request_id, command


@pytest.fixture
def sent_mail(aws: EmulatedAws, settings: Any) -> SentMail:
    """Mail goes through the SES backend to the emulated SES; the messages it received."""
    settings.MAILERS = {"default": {"BACKEND": "apps.notifications.email.SesEmailBackend"}}
    settings.NOTIFICATIONS_FROM_EMAIL = SENDER
    settings.BESPOKE_PUBLIC_URL = "https://bespoke.example.com/"
    assert notifications.sender_verify() == SENDER
    backend = ses_backends[DEFAULT_ACCOUNT_ID][settings.AWS_DEFAULT_REGION]
    return lambda: list(backend.sent_messages)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as state:
        yield state


@pytest.fixture
def operator(make_api_client: Callable[..., APIClient]) -> APIClient:
    return make_api_client("operations:admin", all_payers=True)

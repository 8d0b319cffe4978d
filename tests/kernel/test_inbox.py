"""The inbox: a handler claims a message once, in the transaction of its effect."""

import pytest
from django.db import transaction

from apps.kernel import inbox
from apps.kernel.models import ProcessedMessage

pytestmark = pytest.mark.django_db


class Boom(Exception):
    pass


def test_the_first_claim_wins_and_a_second_finds_it_taken() -> None:
    assert inbox.claim("workflow.on_step_succeeded", "message-1") is True
    assert inbox.claim("workflow.on_step_succeeded", "message-1") is False

    assert ProcessedMessage.objects.filter(message_id="message-1").count() == 1
    assert inbox.already_processed("workflow.on_step_succeeded", "message-1")


def test_each_handler_claims_the_same_message_for_itself() -> None:
    assert inbox.claim("intake.on_run_started", "message-1") is True
    assert inbox.claim("notifications.on_run_started", "message-1") is True

    assert not inbox.already_processed("workflow.on_run_started", "message-1")


def claim_then_fail(handler: str, message_id: str) -> None:
    with transaction.atomic():
        assert inbox.claim(handler, message_id)
        raise Boom


def test_a_rolled_back_effect_releases_its_claim() -> None:
    with pytest.raises(Boom):
        claim_then_fail("intake.on_run_started", "message-1")

    assert not inbox.already_processed("intake.on_run_started", "message-1")
    assert inbox.claim("intake.on_run_started", "message-1") is True


def test_a_refused_claim_leaves_the_callers_transaction_usable() -> None:
    # On PostgreSQL a failed INSERT aborts the whole transaction unless it ran in a savepoint.
    with transaction.atomic():
        assert inbox.claim("intake.on_run_started", "message-1")
        assert not inbox.claim("intake.on_run_started", "message-1")
        assert inbox.claim("intake.on_run_started", "message-2")
        assert ProcessedMessage.objects.count() == 2

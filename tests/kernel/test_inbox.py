"""The inbox: a handler claims a message once, in the transaction of its effect."""

from typing import Any

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


def test_processed_tells_which_pairs_are_already_there_in_one_query(django_assert_num_queries: Any) -> None:
    inbox.claim("sqs:a#0", "message-1")
    inbox.claim("sqs:b#0", "message-2")

    with django_assert_num_queries(1):
        done = inbox.processed([("sqs:a#0", "message-1"), ("sqs:a#0", "message-2"), ("sqs:c#0", "message-1")])

    assert done == {("sqs:a#0", "message-1")}  # not the crossed pairs
    assert inbox.processed([]) == set()


def test_mark_processed_adds_new_pairs_and_leaves_existing_ones() -> None:
    inbox.claim("sqs:a#0", "message-1")
    before = ProcessedMessage.objects.get(handler="sqs:a#0", message_id="message-1").processed_at

    inbox.mark_processed([("sqs:a#0", "message-1"), ("sqs:a#0", "message-2")])
    inbox.mark_processed([("sqs:a#0", "message-2")])

    assert ProcessedMessage.objects.filter(handler="sqs:a#0").count() == 2
    assert ProcessedMessage.objects.get(handler="sqs:a#0", message_id="message-1").processed_at == before
    assert not inbox.claim("sqs:a#0", "message-2")

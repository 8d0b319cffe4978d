"""Redrive and discard, the service: a letter goes back to its handler once; a discard
needs a reason and records it."""

from datetime import UTC, datetime
from typing import Any

import pytest

from apps.accounts import api as accounts
from apps.intake.models import AccountRequest
from apps.intake.services import request_create
from apps.kernel import clock, deadletters
from apps.kernel.deadletters import (
    dead_letter_discard,
    dead_letter_get,
    dead_letter_list,
    dead_letter_redrive,
)
from apps.kernel.errors import ApplicationError, Conflict, NotFound
from apps.kernel.models import DeadLetter
from tasks.deadletters import redrive
from tests.support.deadletters import CLIENT, deliver, letter_for_crashed_event, plain_letter
from tests.support.factories import request_body

pytestmark = pytest.mark.django_db


def test_redriving_a_handlers_letter_sends_it_to_that_handler_again(
    monkeypatch: pytest.MonkeyPatch,
    demo_payer: accounts.PayerSummary,
    sent_tasks: list[tuple[str, list[Any], str]],
    fixed_clock: datetime,
) -> None:
    request_id = request_create(client_id=CLIENT, data=request_body()).id
    letter = letter_for_crashed_event(monkeypatch, request_id)

    redriven = dead_letter_redrive(dead_letter_id=letter.id, by="ops:alice")

    assert sent_tasks == [("intake.on_run_started", [letter.envelope], "q.intake")]
    assert (redriven.state, redriven.resolved_by, redriven.resolved_at) == ("redriven", "ops:alice", fixed_clock)
    assert redriven.resolution == "sent to intake.on_run_started again"
    stored = DeadLetter.objects.get(id=letter.id)
    assert (stored.state, stored.resolved_by, stored.resolved_at) == ("redriven", "ops:alice", fixed_clock)

    monkeypatch.undo()  # the bug is fixed; the worker receives what was sent
    [(name, args, _)] = sent_tasks
    deliver(name, *args)

    assert AccountRequest.objects.get(id=request_id).status == "provisioning"
    assert DeadLetter.objects.count() == 1


def test_a_letter_is_redriven_once(sent_tasks: list[tuple[str, list[Any], str]]) -> None:
    letter_id = plain_letter()
    dead_letter_redrive(dead_letter_id=letter_id, by="ops")

    with pytest.raises(Conflict) as again:
        dead_letter_redrive(dead_letter_id=letter_id, by="ops")

    assert again.value.extra == {"state": "redriven"}
    assert len(sent_tasks) == 1


def test_redriving_needs_a_known_letter_and_handler(sent_tasks: list[tuple[str, list[Any], str]]) -> None:
    with pytest.raises(NotFound):
        dead_letter_redrive(dead_letter_id="no-such-letter", by="ops")

    gone = plain_letter(handler="audit.on_run_started")
    with pytest.raises(Conflict, match=r"No handler named audit\.on_run_started"):
        dead_letter_redrive(dead_letter_id=gone, by="ops")

    assert dead_letter_get(dead_letter_id=gone).state == "open"  # left for an operator to discard
    assert sent_tasks == []


def test_a_step_letter_whose_request_is_not_failed_is_not_redriven(
    started: tuple[str, dict[str, Any]], sent_tasks: list[tuple[str, list[Any], str]]
) -> None:
    _, command = started  # the request is still being provisioned
    letter_id = plain_letter(handler="accounts.run_step", envelope=command)

    with pytest.raises(Conflict, match="Only a failed or cancelled request"):
        dead_letter_redrive(dead_letter_id=letter_id, by="ops")

    assert dead_letter_get(dead_letter_id=letter_id).state == "open"
    assert sent_tasks == []


def test_redriving_needs_a_redriver() -> None:
    letter_id = plain_letter()
    deadletters.set_redriver(None)
    try:
        with pytest.raises(ApplicationError) as unavailable:
            dead_letter_redrive(dead_letter_id=letter_id, by="ops")
    finally:
        deadletters.set_redriver(redrive)

    assert unavailable.value.code == "redrive_unavailable"
    assert dead_letter_get(dead_letter_id=letter_id).state == "open"


def test_discarding_needs_a_reason_and_records_it(fixed_clock: datetime) -> None:
    letter_id = plain_letter()

    for blank in ("", "   "):
        with pytest.raises(ApplicationError) as refused:
            dead_letter_discard(dead_letter_id=letter_id, reason=blank, by="ops")
        assert refused.value.code == "reason_required"
    assert dead_letter_get(dead_letter_id=letter_id).state == "open"

    discarded = dead_letter_discard(dead_letter_id=letter_id, reason="  request withdrawn ", by="ops:bob")

    assert (discarded.state, discarded.resolution) == ("discarded", "request withdrawn")
    assert (discarded.resolved_by, discarded.resolved_at) == ("ops:bob", fixed_clock)
    with pytest.raises(Conflict):
        dead_letter_discard(dead_letter_id=letter_id, reason="again", by="ops")
    with pytest.raises(Conflict):
        dead_letter_redrive(dead_letter_id=letter_id, by="ops")
    with pytest.raises(NotFound):
        dead_letter_discard(dead_letter_id="no-such-letter", reason="x", by="ops")


def test_the_list_filters_by_state_newest_first() -> None:
    clock.set_source(lambda: datetime(2031, 1, 1, tzinfo=UTC))
    older = plain_letter()
    clock.set_source(lambda: datetime(2031, 1, 2, tzinfo=UTC))
    newer = plain_letter()
    clock.set_source(None)
    dead_letter_discard(dead_letter_id=older, reason="noise", by="ops")

    assert [letter.id for letter in dead_letter_list()[1]] == [newer, older]
    assert dead_letter_list(state="open")[0] == 1
    assert [letter.id for letter in dead_letter_list(state="discarded")[1]] == [older]
    assert [letter.id for letter in dead_letter_list(limit=1, offset=1)[1]] == [older]

"""The dead-letter API: operators of every payer list, read, redrive and discard."""

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.clients.contracts import REQUESTS_READ, REQUESTS_WRITE
from apps.kernel.deadletters import dead_letter_discard
from apps.kernel.models import DeadLetter
from tests.support.deadletters import plain_letter

pytestmark = pytest.mark.django_db


def test_operators_list_and_filter_dead_letters(operator: APIClient) -> None:
    first = plain_letter()
    second = plain_letter(handler="workflow.on_step_failed", error_code="Busy")
    dead_letter_discard(dead_letter_id=first, reason="noise", by="ops")

    everything = operator.get("/v1/dead-letters")
    still_open = operator.get("/v1/dead-letters", {"state": "open"})
    paged = operator.get("/v1/dead-letters", {"limit": 1, "offset": 0})

    assert everything.status_code == 200
    assert everything.json()["count"] == 2
    assert {letter["id"] for letter in everything.json()["results"]} == {first, second}
    [only] = still_open.json()["results"]
    assert (still_open.json()["count"], only["id"], only["error_code"]) == (1, second, "Busy")
    assert (paged.json()["count"], len(paged.json()["results"])) == (2, 1)
    assert operator.get("/v1/dead-letters", {"state": "lost"}).status_code == 400
    assert operator.get("/v1/dead-letters", {"limit": 0}).status_code == 400


def test_operators_see_a_dead_letter_in_full(operator: APIClient) -> None:
    letter_id = plain_letter()

    answer = operator.get(f"/v1/dead-letters/{letter_id}")

    assert answer.status_code == 200
    body = answer.json()
    letter = DeadLetter.objects.get(id=letter_id)
    assert body["id"] == letter_id
    assert body["envelope"] == letter.envelope
    assert body["history"] == letter.history
    assert (body["handler"], body["message_type"], body["error_code"]) == (
        "intake.on_run_started",
        "RunStarted",
        "Boom",
    )
    assert (body["state"], body["resolved_at"], body["attempts"]) == ("open", None, 1)
    assert datetime.fromisoformat(body["created_at"]) == letter.created_at
    missing = operator.get("/v1/dead-letters/no-such-letter")
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"


def test_operators_redrive_one_dead_letter(operator: APIClient, sent_tasks: list[tuple[str, list[Any], str]]) -> None:
    letter_id = plain_letter()

    answer = operator.post(f"/v1/dead-letters/{letter_id}/redrive")

    assert answer.status_code == 202
    assert answer.json()["state"] == "redriven"
    assert answer.json()["resolved_by"].startswith("api:client-")
    assert len(sent_tasks) == 1
    again = operator.post(f"/v1/dead-letters/{letter_id}/redrive")
    assert again.status_code == 409
    assert again.json()["extra"] == {"state": "redriven"}
    assert operator.post("/v1/dead-letters/no-such-letter/redrive").status_code == 404
    assert len(sent_tasks) == 1


def test_operators_redrive_many_and_hear_what_happened_to_each(
    operator: APIClient, sent_tasks: list[tuple[str, list[Any], str]]
) -> None:
    first, second, discarded = plain_letter(), plain_letter(), plain_letter()
    dead_letter_discard(dead_letter_id=discarded, reason="noise", by="ops")

    answer = operator.post(
        "/v1/dead-letters/redrive", {"ids": [first, discarded, "no-such-letter", second, first]}, format="json"
    )

    assert answer.status_code == 207
    results = {result["id"]: result for result in answer.json()["results"]}
    assert len(answer.json()["results"]) == 4  # each id once
    assert results[first]["redriven"] is results[second]["redriven"] is True
    assert results[first]["resolution"] == "sent to intake.on_run_started again"
    assert (results[discarded]["redriven"], results[discarded]["code"]) == (False, "conflict")
    assert (results["no-such-letter"]["redriven"], results["no-such-letter"]["code"]) == (False, "not_found")
    assert len(sent_tasks) == 2
    assert DeadLetter.objects.get(id=second).state == "redriven"
    for bad in ({"ids": []}, {}, {"ids": "x"}):
        assert operator.post("/v1/dead-letters/redrive", bad, format="json").status_code == 400


def test_operators_discard_with_a_reason(operator: APIClient) -> None:
    letter_id = plain_letter()

    for body in ({}, {"reason": ""}, {"reason": "   "}):
        refused = operator.post(f"/v1/dead-letters/{letter_id}/discard", body, format="json")
        assert refused.status_code == 400, body
    assert DeadLetter.objects.get(id=letter_id).state == "open"

    answer = operator.post(f"/v1/dead-letters/{letter_id}/discard", {"reason": "duplicate of RITM7"}, format="json")

    assert answer.status_code == 200
    assert (answer.json()["state"], answer.json()["resolution"]) == ("discarded", "duplicate of RITM7")
    assert answer.json()["resolved_at"] is not None
    assert operator.post(f"/v1/dead-letters/{letter_id}/discard", {"reason": "x"}, format="json").status_code == 409
    assert operator.post("/v1/dead-letters/nope/discard", {"reason": "x"}, format="json").status_code == 404


def test_dead_letters_are_for_operators_only(make_api_client: Callable[..., APIClient]) -> None:
    letter_id = plain_letter()
    client = make_api_client(REQUESTS_READ, REQUESTS_WRITE)
    anonymous = APIClient()

    for caller, expected in ((client, 403), (anonymous, 401)):
        assert caller.get("/v1/dead-letters").status_code == expected
        assert caller.get(f"/v1/dead-letters/{letter_id}").status_code == expected
        assert caller.post(f"/v1/dead-letters/{letter_id}/redrive").status_code == expected
        assert caller.post("/v1/dead-letters/redrive", {"ids": [letter_id]}, format="json").status_code == expected
        assert caller.post(f"/v1/dead-letters/{letter_id}/discard", {"reason": "x"}).status_code == expected
    assert DeadLetter.objects.get(id=letter_id).state == "open"

"""``Idempotency-Key`` on ``POST /v1/account-requests``: a retry with the same key and body
gets the original answer (even after a lost response, even once the request moved on);
the same key with another body is 422; keys belong to one client; concurrent retries of
one key make one request."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.accounts import api as accounts
from apps.clients import api as clients
from apps.intake import services
from apps.intake.models import AccountRequest, IdempotencyKey
from apps.kernel.models import OutboxMessage
from tests.conftest import EmulatedAws
from tests.support.bus import drain
from tests.support.concurrency import all_at_once
from tests.support.factories import request_body
from tests.support.services import need_postgres

URL = "/v1/account-requests"
KEY = "7f6c1a3e-retry-me"


def post(api: APIClient, body: dict[str, Any], key: str | None = KEY) -> Any:
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    return api.post(URL, body, format="json", **headers)


def written() -> tuple[int, int, int]:
    """(requests, keys, outbox messages)."""
    return AccountRequest.objects.count(), IdempotencyKey.objects.count(), OutboxMessage.objects.count()


@pytest.mark.django_db
def test_the_same_key_and_body_answer_as_the_first_time(api: APIClient, payer: None) -> None:
    first = post(api, request_body())
    second = post(api, request_body())

    assert first.status_code == second.status_code == 202
    assert second.json() == first.json()
    assert first.json()["status"] == "accepted"
    assert second["Location"] == first["Location"] == first.json()["status_url"]
    assert "Idempotent-Replayed" not in first
    assert second["Idempotent-Replayed"] == "true"
    assert written() == (1, 1, 1)  # one request, one key, one AccountRequested
    key = IdempotencyKey.objects.get()
    assert (key.key, key.request_id) == (KEY, first.json()["id"])


@pytest.mark.django_db
def test_the_replay_answers_accepted_after_the_request_moved_on(
    api: APIClient, demo_payer: accounts.PayerSummary, aws: EmulatedAws
) -> None:
    first = post(api, request_body())
    drain()
    assert api.get(first.json()["status_url"]).json()["status"] == "succeeded"

    replay = post(api, request_body())

    assert replay.status_code == 202
    assert replay.json() == {"id": first.json()["id"], "status": "accepted", "status_url": first.json()["status_url"]}
    assert replay["Idempotent-Replayed"] == "true"
    assert AccountRequest.objects.count() == 1


@pytest.mark.django_db
def test_the_replay_answers_even_after_the_request_failed(api: APIClient, payer: None) -> None:
    first = post(api, request_body())
    AccountRequest.objects.filter(id=first.json()["id"]).update(status="failed")

    replay = post(api, request_body())

    assert (replay.status_code, replay.json()["id"]) == (202, first.json()["id"])
    assert AccountRequest.objects.count() == 1


@pytest.mark.django_db
def test_the_same_key_with_another_body_is_refused_and_writes_nothing(api: APIClient, payer: None) -> None:
    first = post(api, request_body())
    before = written()

    for changed in (request_body(comment="a different comment"), request_body(tags__project_short_name="other")):
        refused = post(api, changed)

        assert refused.status_code == 422
        assert refused.json()["code"] == "idempotency_key_reused"
        assert refused.json()["extra"] == {"request_id": first.json()["id"]}
        assert "Idempotent-Replayed" not in refused
    assert written() == before


@pytest.mark.django_db
def test_the_body_is_compared_as_data_not_as_bytes(api: APIClient, payer: None) -> None:
    first = post(api, request_body())
    reordered = dict(reversed(list(request_body().items())))

    replay = api.post(URL, reordered, format="json", HTTP_IDEMPOTENCY_KEY=KEY)

    assert (replay.status_code, replay.json()["id"]) == (202, first.json()["id"])


@pytest.mark.django_db
def test_keys_belong_to_one_client(make_api_client: Callable[..., APIClient], payer: None) -> None:
    alice, bob, carol = make_api_client(), make_api_client(), make_api_client()
    mine = post(alice, request_body())

    theirs = post(bob, request_body(tags__project_short_name="bobs"))

    assert theirs.status_code == 202
    assert theirs.json()["id"] != mine.json()["id"]
    assert "Idempotent-Replayed" not in theirs
    assert IdempotencyKey.objects.filter(key=KEY).count() == 2
    # The same body under the same key is still a duplicate for another client: the
    # account email is taken, and the key is no way into someone else's request.
    same = post(carol, request_body())
    assert same.status_code == 409
    assert same.json()["code"] == "duplicate_request"


@pytest.mark.django_db
def test_a_refused_request_does_not_use_up_its_key(api: APIClient, payer: None) -> None:
    unknown_payer = post(api, request_body(payer="nobody"))
    invalid = post(api, request_body(environment="moon"))
    assert (unknown_payer.status_code, invalid.status_code) == (400, 400)
    assert written() == (0, 0, 0)

    accepted = post(api, request_body())

    assert accepted.status_code == 202
    assert "Idempotent-Replayed" not in accepted


@pytest.mark.django_db
def test_a_key_for_a_duplicate_request_answers_409_and_stays_unused(api: APIClient, payer: None) -> None:
    original = post(api, request_body(), key=None)

    duplicate = post(api, request_body(), key="k-2")

    assert duplicate.status_code == 409
    assert duplicate.json()["extra"]["existing_request_id"] == original.json()["id"]
    assert not IdempotencyKey.objects.exists()


@pytest.mark.django_db
def test_without_a_key_nothing_is_remembered(api: APIClient, payer: None) -> None:
    assert post(api, request_body(), key=None).status_code == 202
    assert post(api, request_body(), key=None).status_code == 409
    assert not IdempotencyKey.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "key",
    ["", "with space", "x" * 256, "tab\there", "ünïcode", "new\nline"],
    ids=["empty", "space", "too-long", "tab", "non-ascii", "newline"],
)
def test_an_invalid_key_is_400_and_writes_nothing(api: APIClient, payer: None, key: str) -> None:
    answer = post(api, request_body(), key=key)

    assert answer.status_code == 400
    assert answer.json()["code"] == "validation_error"
    assert "Idempotency-Key" in answer.json()["extra"]["fields"]
    assert written() == (0, 0, 0)


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["a" * 255, "!#$%&'*+-.^_`|~0123456789", "ABC:def/ghi=="])
def test_any_printable_key_up_to_255_characters_is_accepted(api: APIClient, payer: None, key: str) -> None:
    assert post(api, request_body(), key=key).status_code == 202
    assert post(api, request_body(), key=key)["Idempotent-Replayed"] == "true"
    assert IdempotencyKey.objects.get().key == key


@contextmanager
def key_seen_late() -> Iterator[list[dict[str, Any]]]:
    """The first look-up of the key finds nothing, as when a concurrent first call has not
    committed yet: the call goes on to write and runs into the winner's rows."""
    original = services._replay
    calls: list[dict[str, Any]] = []

    def late(**kwargs: Any) -> Any:
        calls.append(kwargs)
        return None if len(calls) == 1 else original(**kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(services, "_replay", late)
        yield calls


@pytest.mark.django_db
def test_a_call_that_loses_the_race_answers_as_the_winner(api: APIClient, payer: None) -> None:
    first = post(api, request_body())
    with key_seen_late() as calls:
        second = post(api, request_body())

    assert len(calls) == 2
    assert (second.status_code, second.json()) == (202, first.json())
    assert second["Idempotent-Replayed"] == "true"
    assert written() == (1, 1, 1)


@pytest.mark.django_db
def test_a_call_with_another_body_that_loses_the_race_is_refused_and_leaves_nothing(
    api: APIClient, payer: None
) -> None:
    first = post(api, request_body())
    with key_seen_late():
        refused = post(api, request_body(tags__project_short_name="other"))

    assert refused.status_code == 422
    assert refused.json()["extra"] == {"request_id": first.json()["id"]}
    assert written() == (1, 1, 1)  # the losing request rolled back with its key


CONCURRENT_REQUESTS = 20


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_with_one_key_make_one_request(payer: None) -> None:
    need_postgres()
    token = clients.client_create(name="portal", scopes=list(clients.ALL_SCOPES), all_payers=True).token

    def submit() -> Any:
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        return post(api, request_body())

    responses = all_at_once(submit, threads=CONCURRENT_REQUESTS)
    assert [r.status_code for r in responses] == [202] * CONCURRENT_REQUESTS, [r.content for r in responses]
    ids = {response.json()["id"] for response in responses}
    assert len(ids) == 1
    assert {response.json()["status"] for response in responses} == {"accepted"}
    assert sum(1 for response in responses if response.has_header("Idempotent-Replayed")) == CONCURRENT_REQUESTS - 1
    assert list(AccountRequest.objects.values_list("id", flat=True)) == list(ids)
    assert IdempotencyKey.objects.count() == 1
    assert OutboxMessage.objects.filter(type="AccountRequested").count() == 1

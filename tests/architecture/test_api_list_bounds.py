"""Found by fuzzing: an ``offset`` past what the database can count was a 500
(``bigint out of range`` on PostgreSQL). Every list bounds it: a clear 400 instead."""

import pytest
from rest_framework.test import APIClient

from apps.kernel.rest import MAX_OFFSET

pytestmark = pytest.mark.django_db

HUGE = 1896612464031372627723317269938307072


def _deliveries_path(api: APIClient) -> str:
    created = api.post("/v1/webhooks", {"url": "https://hooks.example.com/bespoke"}, format="json")
    assert created.status_code == 201, created.content
    return f"/v1/webhooks/{created.json()['id']}/deliveries"


@pytest.mark.parametrize("path", ["/v1/account-requests", "/v1/dead-letters", "deliveries"])
def test_an_offset_too_large_to_count_is_a_400_not_a_500(api: APIClient, path: str) -> None:
    path = _deliveries_path(api) if path == "deliveries" else path

    too_large = api.get(path, {"offset": HUGE})
    largest = api.get(path, {"offset": MAX_OFFSET})

    assert too_large.status_code == 400, too_large.content
    assert too_large.json()["code"] == "validation_error"
    assert "offset" in too_large.json()["extra"]["fields"]
    assert largest.status_code == 200, largest.content
    assert largest.json()["results"] == []

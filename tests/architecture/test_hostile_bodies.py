"""Bodies built to hurt: one over the size limit answers 413, JSON nested thousands deep
answers 400 — on v1 and on the legacy facade — never a 500, and nothing is written."""

from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from apps.intake.models import AccountRequest
from apps.kernel.models import OutboxMessage

pytestmark = pytest.mark.django_db

PATHS = ["/v1/account-requests", "/accounts", "/v1/webhooks", "/v1/tokens"]


@pytest.fixture
def api(make_api_client: Callable[..., APIClient], payer: object) -> APIClient:
    return make_api_client()


@pytest.mark.parametrize("path", PATHS)
def test_a_body_over_the_limit_is_413(api: APIClient, path: str, settings: object) -> None:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE  # type: ignore[attr-defined]
    body = b'{"padding": "' + b"x" * (limit + 1) + b'"}'

    response = api.post(path, body, content_type="application/json")

    assert response.status_code == 413, response.content[:300]
    if path.startswith("/v1/"):
        assert response.json()["code"] == "payload_too_large"
    assert not AccountRequest.objects.exists()
    assert not OutboxMessage.objects.exists()


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("depth", [40, 100_000])
def test_deeply_nested_json_is_400(api: APIClient, path: str, depth: int) -> None:
    body = b"[" * depth + b"]" * depth

    response = api.post(path, body, content_type="application/json")

    assert response.status_code == 400, response.content[:300]
    if path.startswith("/v1/"):
        assert response.json()["code"] == "parse_error"
    assert not AccountRequest.objects.exists()


def test_a_body_inside_the_limit_and_depth_still_works(api: APIClient) -> None:
    from tests.support.factories import request_body

    assert api.post("/v1/account-requests", request_body(), format="json").status_code == 202

"""Every v1 endpoint declares the scopes it needs, and a token without them gets 403."""

from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient
from rest_framework.views import APIView

from apps.clients import api as clients

pytestmark = pytest.mark.django_db

METHODS = ("get", "post", "put", "patch", "delete")


def _endpoints(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, type[APIView]]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _endpoints(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            view = getattr(pattern.callback, "view_class", None)
            if view is not None and issubclass(view, APIView):
                yield prefix + str(pattern.pattern), view


def _needs(view: type[APIView], method: str) -> tuple[str, ...]:
    required = view.required_scopes  # type: ignore[attr-defined]
    return tuple(required.get(method.upper(), ())) if isinstance(required, dict) else tuple(required)


ALL_ENDPOINTS = sorted(
    {
        (route, method, view)
        for route, view in _endpoints(get_resolver().url_patterns)
        if route.startswith("v1/")
        for method in METHODS
        if hasattr(view, method)
    },
    key=lambda item: (item[0], item[1]),
)
ENDPOINTS = [(route, method, view) for route, method, view in ALL_ENDPOINTS if _needs(view, method)]


def test_only_a_clients_own_token_management_is_open_to_every_client() -> None:
    open_to_all = {route for route, method, view in ALL_ENDPOINTS if not _needs(view, method)}
    # The schema and its docs page need no token at all (tests/architecture/test_openapi.py);
    # the integration steps' callbacks are authenticated by their callback token.
    assert open_to_all == {
        "v1/tokens",
        "v1/tokens/rotate",
        "v1/tokens/<str:prefix>",
        "v1/schema",
        "v1/docs",
        "v1/steps/<str:token>/complete",
        "v1/steps/<str:token>/fail",
    }
    assert all(hasattr(view, "required_scopes") for _, _, view in ALL_ENDPOINTS)


@pytest.mark.parametrize(("route", "method", "view"), ENDPOINTS, ids=[f"{m.upper()} {r}" for r, m, _ in ENDPOINTS])
def test_a_token_without_the_endpoints_scope_gets_403(route: str, method: str, view: type[APIView]) -> None:
    needed = _needs(view, method)
    others = [scope for scope in clients.ALL_SCOPES if scope not in needed]
    api = APIClient()
    api.credentials(
        HTTP_AUTHORIZATION=f"Bearer {clients.client_create(name='scopeless', scopes=others, payers=['demo']).token}"
    )
    path = "/" + route.replace("<str:", "").replace(">", "")

    response = getattr(api, method)(path, {}, format="json")

    assert response.status_code == 403, (path, response.content)
    assert response.json()["code"] == "permission_denied"

"""The API's own documentation: the OpenAPI document and Swagger UI, readable without a
token (nothing in them is secret) and never throttled. The UI's assets are static files
(``drf_spectacular_sidecar``), so the page loads nothing from outside."""

from typing import Any

from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework import permissions


class SchemaView(SpectacularAPIView):
    required_scopes: tuple[str, ...] = ()  # documentation: no token needed
    authentication_classes: list[type] = []
    permission_classes = [permissions.AllowAny]
    throttle_classes: list[type] = []


class DocsView(SpectacularSwaggerView):
    required_scopes: tuple[str, ...] = ()  # documentation: no token needed
    authentication_classes: list[type] = []
    permission_classes = [permissions.AllowAny]
    throttle_classes: list[type] = []
    url_name = "v1:schema"


def legacy_paths(endpoints: list[tuple[str, str, str, Any]]) -> list[tuple[str, str, str, Any]]:
    """Tailor's paths as its clients call them: no trailing slash (one is tolerated), and
    ``/account`` left out as the alias of ``/accounts`` it is."""
    documented = []
    for path, path_regex, method, callback in endpoints:
        if path == "/account/":
            continue
        if not path.startswith("/v1/") and path.endswith("/"):
            path = path.rstrip("/")
        documented.append((path, path_regex, method, callback))
    return documented

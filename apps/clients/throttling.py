from typing import TYPE_CHECKING

from rest_framework.throttling import SimpleRateThrottle

from apps.clients.contracts import Principal

if TYPE_CHECKING:  # importing DRF's views here would import this module again, half-made
    from rest_framework.request import Request
    from rest_framework.views import APIView


class ClientRateThrottle(SimpleRateThrottle):
    """Per-client request rate (``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["client"]``),
    counted in the shared cache: a client over it gets 429 with ``Retry-After``."""

    scope = "client"

    def get_cache_key(self, request: "Request", view: "APIView") -> str | None:
        principal = request.user
        if not isinstance(principal, Principal):
            return None  # unauthenticated requests are refused before they cost anything
        return self.cache_format % {"scope": self.scope, "ident": principal.client_id}

from typing import TYPE_CHECKING

import structlog
from rest_framework.throttling import SimpleRateThrottle

from apps.clients.contracts import Principal

if TYPE_CHECKING:  # importing DRF's views here would import this module again, half-made
    from rest_framework.request import Request
    from rest_framework.views import APIView

log = structlog.get_logger(__name__)


class ClientRateThrottle(SimpleRateThrottle):
    """Per-client request rate (``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["client"]``),
    counted in the shared cache: a client over it gets 429 with ``Retry-After``."""

    scope = "client"

    def get_cache_key(self, request: "Request", view: "APIView") -> str | None:
        principal = request.user
        if not isinstance(principal, Principal):
            return None  # unauthenticated requests are refused before they cost anything
        return self.cache_format % {"scope": self.scope, "ident": principal.client_id}

    def allow_request(self, request: "Request", view: "APIView") -> bool:
        # Fail open: when the shared cache (Redis) is down, requests are still taken —
        # the outbox keeps them safe — rather than refused with a 500.
        try:
            return super().allow_request(request, view)
        except Exception:
            log.warning("throttle.cache_unavailable", exc_info=True)
            return True

from typing import TYPE_CHECKING, Any

import structlog
from django.core.cache.backends.locmem import LocMemCache
from rest_framework.throttling import SimpleRateThrottle

from apps.clients.contracts import Principal

if TYPE_CHECKING:  # importing DRF's views here would import this module again, half-made
    from rest_framework.request import Request
    from rest_framework.views import APIView

log = structlog.get_logger(__name__)

# Counts kept in this process only, for when the shared cache can't be reached.
_local_counts = LocMemCache("bespoke-throttle-fallback", {})


class ClientRateThrottle(SimpleRateThrottle):
    """Per-client request rate (``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["client"]``),
    counted in the shared cache (Redis, or the database on Lambda): a client over it gets
    429 with ``Retry-After``.

    When the shared cache is down the limit is still enforced, counted in this process
    alone: requests are neither all refused (the API stays up) nor all let through (a
    client cannot flood it by waiting for an outage)."""

    scope = "client"

    def get_cache_key(self, request: "Request", view: "APIView") -> str | None:
        principal = request.user
        if not isinstance(principal, Principal):
            return None  # unauthenticated requests are refused before they cost anything
        return self.cache_format % {"scope": self.scope, "ident": principal.client_id}

    def allow_request(self, request: "Request", view: "APIView") -> bool:
        try:
            return super().allow_request(request, view)
        except Exception:
            log.warning("throttle.cache_unavailable", exc_info=True)
        shared: Any = self.cache
        self.cache = _local_counts
        try:
            return super().allow_request(request, view)
        finally:
            self.cache = shared

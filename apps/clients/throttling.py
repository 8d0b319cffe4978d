from typing import TYPE_CHECKING, Any

import structlog
from django.core.cache import cache as default_cache
from django.core.cache import caches
from django.core.cache.backends.db import DatabaseCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from django.db import router, transaction
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
    client cannot flood it by waiting for an outage).

    In Redis a client's window is a counter that starts with its first request and ends
    ``duration`` later (one round trip: create it if absent, count, read its time left),
    not DRF's list of every request's time, read and written back whole on each call.
    Other caches (the database's on Lambda, memory) keep DRF's list."""

    scope = "client"
    _retry_after: float | None = None
    num_requests: int  # set by DRF from the rate
    duration: int

    def get_cache_key(self, request: "Request", view: "APIView") -> str | None:
        principal = request.user
        if not isinstance(principal, Principal):
            return None  # unauthenticated requests are refused before they cost anything
        return self.cache_format % {"scope": self.scope, "ident": principal.client_id}

    def allow_request(self, request: "Request", view: "APIView") -> bool:
        try:
            backend = self._backend()
            if isinstance(backend, RedisCache) and self.rate is not None:
                return self._allow_in_redis(request, view)
            if isinstance(backend, DatabaseCache):
                # Counted in the request's own database, perhaps inside its transaction
                # (an account request's POST runs in one): a count that fails must not
                # abort it, so the count has a savepoint of its own.
                with transaction.atomic(using=router.db_for_write(backend.cache_model_class)):
                    return super().allow_request(request, view)
            return super().allow_request(request, view)
        except Exception:
            log.warning("throttle.cache_unavailable", exc_info=True)
        shared: Any = self.cache
        self.cache = _local_counts
        try:
            return super().allow_request(request, view)
        finally:
            self.cache = shared

    def _backend(self) -> Any:
        # DRF's ``cache`` is the default cache's proxy: the backend behind it, to know its kind.
        return caches["default"] if self.cache is default_cache else self.cache

    def _allow_in_redis(self, request: "Request", view: "APIView") -> bool:
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        cache: Any = self._backend()
        full_key = cache.make_and_validate_key(f"{key}:window")
        client = cache._cache.get_client(full_key, write=True)
        with client.pipeline(transaction=False) as pipe:
            pipe.set(full_key, 0, ex=int(self.duration), nx=True)
            pipe.incr(full_key)
            pipe.pttl(full_key)
            _, count, left_ms = pipe.execute()
        if int(count) <= int(self.num_requests):
            return True
        self._retry_after = max(int(left_ms), 0) / 1000
        return False

    def wait(self) -> float | None:
        if self._retry_after is not None:
            return self._retry_after
        return super().wait()

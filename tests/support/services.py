"""Reaching the machine's real PostgreSQL and Redis, or explaining why a test can't."""

import os
import socket
from urllib.parse import urlparse

import pytest
from django.db import connection


def services_required() -> bool:
    return os.environ.get("BESPOKE_REQUIRE_SERVICES", "") == "1"


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def redis_url() -> str | None:
    url = os.environ.get("REDIS_URL")
    if not url:
        return None
    parsed = urlparse(url)
    return url if _reachable(parsed.hostname or "127.0.0.1", parsed.port or 6379) else None


def need_postgres() -> None:
    """Skip (or, in CI, fail) unless the test database is PostgreSQL."""
    if connection.vendor == "postgresql":
        return
    reason = "needs PostgreSQL: set DATABASE_URL=postgres://... (CI does)"
    if services_required():
        pytest.fail(reason)
    pytest.skip(reason)


def need_redis() -> str:
    url = redis_url()
    if url:
        return url
    reason = "needs Redis: set REDIS_URL=redis://127.0.0.1:6379/15 (CI does)"
    if services_required():
        pytest.fail(reason)
    pytest.skip(reason)

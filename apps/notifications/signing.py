"""Webhook signatures: ``Bespoke-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>``.

The MAC covers ``f"{t}.{body}"`` — the timestamp and the exact bytes POSTed — so a
receiver that checks it knows the body came from us unaltered, and by checking ``t``
against its clock it refuses a captured request replayed later.

Receivers verify like this::

    verify_signature(secret, request.headers["Bespoke-Signature"], request.body)
"""

import hashlib
import hmac
import secrets

from apps.kernel import clock

SIGNATURE_VERSION = "v1"
SECRET_PREFIX = "whsec_"  # noqa: S105  (a label that tells secrets apart, not a secret)
DEFAULT_TOLERANCE_SECONDS = 300


def new_secret() -> str:
    """A random signing secret (256 bits)."""
    return SECRET_PREFIX + secrets.token_hex(32)


def _as_bytes(body: str | bytes) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else body


def sign(secret: str, timestamp: int, body: str | bytes) -> str:
    """The hex HMAC-SHA256 of ``f"{timestamp}.{body}"`` keyed with ``secret``."""
    signed = f"{timestamp}.".encode() + _as_bytes(body)
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: str | bytes, *, timestamp: int | None = None) -> str:
    """The ``Bespoke-Signature`` header value for ``body``, signed now (or at ``timestamp``)."""
    at = int(clock.now().timestamp()) if timestamp is None else timestamp
    return f"t={at},{SIGNATURE_VERSION}={sign(secret, at, body)}"


def verify_signature(
    secret: str,
    header: str,
    body: str | bytes,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    *,
    now: float | None = None,
) -> bool:
    """True if ``header`` is a valid signature of ``body`` made within ``tolerance_seconds``.

    Several ``v1=`` entries are accepted (any one may match), so a receiver keeps working
    while a secret is rotated.
    """
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                return False
        elif key == SIGNATURE_VERSION and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    current = clock.now().timestamp() if now is None else now
    if abs(current - timestamp) > tolerance_seconds:
        return False
    expected = sign(secret, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)

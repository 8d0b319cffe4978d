"""Signing secrets at rest: encrypted with Fernet (AES-128-CBC + HMAC-SHA256) under the keys
in ``WEBHOOK_SECRET_KEYS``.

The first key encrypts; every key decrypts (``MultiFernet``), so keys rotate: put a new key
first, re-encrypt (``manage.py reencrypt_webhook_secrets``), then drop the old one. A
database dump without the keys holds no usable secret.
"""

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

__all__ = ["InvalidToken", "decrypt", "encrypt", "fernet", "keys_problem", "reencrypt"]


def keys_problem(keys: Sequence[str]) -> str | None:
    """What is wrong with ``WEBHOOK_SECRET_KEYS`` (None if nothing): there must be one, and
    each must be a Fernet key (32 url-safe base64 bytes, ``Fernet.generate_key()``)."""
    if not keys:
        return "Set WEBHOOK_SECRET_KEYS: the Fernet key(s) webhook signing secrets are encrypted with."
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            return f"WEBHOOK_SECRET_KEYS: key {position} is not a Fernet key (32 url-safe base64-encoded bytes)."
    return None


def fernet(keys: Sequence[str] | None = None) -> MultiFernet:
    """The keys (default: the settings'), newest first."""
    chosen = list(settings.WEBHOOK_SECRET_KEYS if keys is None else keys)
    problem = keys_problem(chosen)
    if problem:
        raise ImproperlyConfigured(problem)
    return MultiFernet([Fernet(key) for key in chosen])


def encrypt(secret: str) -> str:
    return fernet().encrypt(secret.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    """The secret; ``InvalidToken`` if no key in the settings opens it."""
    return fernet().decrypt(token.encode("ascii")).decode("utf-8")


def reencrypt(token: str) -> str:
    """The same secret encrypted under the first key (``InvalidToken`` as ``decrypt``)."""
    return fernet().rotate(token.encode("ascii")).decode("ascii")

"""Secrets at rest, encrypted with Fernet (AES-128-CBC + HMAC-SHA256) under a key ring.

A key ring is a list of Fernet keys, newest first: the first encrypts, every one decrypts
(``MultiFernet``), so keys rotate — put a new key first, re-encrypt, drop the old one. A
database dump without the keys holds no usable secret. The setting that holds a ring is
named by the caller, so its messages name it too.
"""

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.core.exceptions import ImproperlyConfigured

__all__ = ["InvalidToken", "decrypt", "encrypt", "keys_problem", "ring"]


def keys_problem(keys: Sequence[str], *, setting: str) -> str | None:
    """What is wrong with the ring ``keys`` read from ``setting`` (None if nothing)."""
    if not keys:
        return f"Set {setting}: the Fernet key(s) its secrets are encrypted with."
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            return f"{setting}: key {position} is not a Fernet key (32 url-safe base64-encoded bytes)."
    return None


def ring(keys: Sequence[str], *, setting: str) -> MultiFernet:
    problem = keys_problem(keys, setting=setting)
    if problem:
        raise ImproperlyConfigured(problem)
    return MultiFernet([Fernet(key) for key in keys])


def encrypt(secret: str, keys: Sequence[str], *, setting: str) -> str:
    return ring(keys, setting=setting).encrypt(secret.encode("utf-8")).decode("ascii")


def decrypt(token: str, keys: Sequence[str], *, setting: str) -> str:
    """The secret; ``InvalidToken`` if no key of the ring opens it."""
    return ring(keys, setting=setting).decrypt(token.encode("ascii")).decode("utf-8")

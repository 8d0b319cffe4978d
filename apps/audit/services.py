"""Writes to the audit log. Only inserts: an entry, once written, is never changed."""

from collections.abc import Mapping
from typing import Any

from django.db import transaction

from apps.audit.models import AuditEntry

REDACTED = "[redacted]"
# A key is secret when its lower-cased name contains one of these, at any depth.
SECRET_KEY_PARTS = ("token", "secret", "password", "authorization", "api_key", "apikey", "credential", "signature")
_MAX_TEXT = 500


def is_secret_key(key: str) -> bool:
    lowered = key.lower()
    return any(part in lowered for part in SECRET_KEY_PARTS)


def redact(value: Any) -> Any:
    """``value`` with every secret-named key's value replaced, at any depth."""
    if isinstance(value, Mapping):
        return {str(k): REDACTED if is_secret_key(str(k)) else redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


def entry_record(
    *,
    actor_type: str,
    actor: str,
    action: str,
    target_type: str = "",
    target_id: str = "",
    source_ip: str | None = None,
    user_agent: str = "",
    request_id: str = "",
    status_code: int | None = None,
    before: Any = None,
    after: Any = None,
) -> AuditEntry:
    """Insert one entry; ``before``/``after`` are redacted here so no caller can forget.

    Its own savepoint: a failed insert never poisons a transaction the caller is in."""
    with transaction.atomic():
        return AuditEntry.objects.create(
            actor_type=actor_type,
            actor=actor[:200],
            action=action[:200],
            target_type=target_type[:100],
            target_id=target_id[:200],
            source_ip=source_ip,
            user_agent=user_agent[:_MAX_TEXT],
            request_id=request_id[:64],
            status_code=status_code,
            before=redact(before),
            after=redact(after),
        )

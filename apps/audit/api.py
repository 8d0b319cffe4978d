"""The audit context's public surface: read the log (writes happen in its middleware)."""

from apps.audit.contracts import AuditEvent
from apps.audit.selectors import event_list

__all__ = ["AuditEvent", "event_list"]

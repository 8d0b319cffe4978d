from datetime import datetime

from apps.audit.contracts import AuditEvent
from apps.audit.models import AuditEntry


def summarize(entry: AuditEntry) -> AuditEvent:
    return AuditEvent(
        id=entry.id,
        at=entry.at,
        actor_type=entry.actor_type,
        actor=entry.actor,
        action=entry.action,
        target_type=entry.target_type,
        target_id=entry.target_id,
        source_ip=entry.source_ip,
        user_agent=entry.user_agent,
        request_id=entry.request_id,
        status_code=entry.status_code,
        before=entry.before,
        after=entry.after,
    )


def event_list(
    *,
    actor: str | None = None,
    action: str | None = None,
    target_id: str | None = None,
    since: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[int, list[AuditEvent]]:
    """Entries newest first; ``actor`` and ``action`` match a substring, ``target_id`` exactly."""
    queryset = AuditEntry.objects.all()
    if actor:
        queryset = queryset.filter(actor__icontains=actor)
    if action:
        queryset = queryset.filter(action__icontains=action)
    if target_id:
        queryset = queryset.filter(target_id=target_id)
    if since is not None:
        queryset = queryset.filter(at__gte=since)
    page = queryset.order_by("-at", "-id")[offset : offset + limit]
    return queryset.count(), [summarize(entry) for entry in page]

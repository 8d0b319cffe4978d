from django.db import models

from apps.audit.contracts import CLIENT, OPERATOR, SYSTEM
from apps.kernel import clock, ids

ACTOR_TYPES = [(CLIENT, "API client"), (OPERATOR, "Operator"), (SYSTEM, "System")]


class AuditEntry(models.Model):
    """One state-changing call: who, what, when, from where, and what changed.

    Rows are only ever inserted (``services.entry_record``); the admin is read-only and on
    PostgreSQL a trigger (migration 0002) rejects UPDATE and DELETE."""

    id = models.CharField(primary_key=True, max_length=36, default=ids.new_id, editable=False)
    at = models.DateTimeField(default=clock.now, db_index=True)
    actor_type = models.CharField(max_length=10, choices=ACTOR_TYPES)
    actor = models.CharField(max_length=200, blank=True, db_index=True)
    action = models.CharField(max_length=200, db_index=True)
    target_type = models.CharField(max_length=100, blank=True)
    target_id = models.CharField(max_length=200, blank=True, db_index=True)
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    request_id = models.CharField(max_length=64, blank=True, db_index=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ("-at", "-id")
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor} {self.action}"

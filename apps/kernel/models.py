from django.db import models


class OutboxMessage(models.Model):
    """A message recorded in the same transaction as the change that caused it.

    Relayed to the broker after commit; the sweeper relays whatever that missed.
    """

    message_id = models.CharField(max_length=36, primary_key=True)
    sequence = models.BigIntegerField(db_index=True, help_text="Recording order; relays publish in this order.")
    type = models.CharField(max_length=100)
    aggregate_id = models.CharField(max_length=36, db_index=True)
    envelope = models.JSONField()
    recorded_at = models.DateTimeField()
    published_at = models.DateTimeField(null=True, blank=True)
    publish_attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["sequence"]
        indexes = [
            models.Index(
                fields=["recorded_at"],
                name="outbox_unpublished_idx",
                condition=models.Q(published_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.message_id}"


class ProcessedMessage(models.Model):
    """The inbox: which handler has already applied which message (exactly-once effect)."""

    handler = models.CharField(max_length=100)
    message_id = models.CharField(max_length=36)
    processed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["handler", "message_id"], name="inbox_once_per_handler"),
        ]

    def __str__(self) -> str:
        return f"{self.handler} {self.message_id}"

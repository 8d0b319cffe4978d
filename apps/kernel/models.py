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
    parked_at = models.DateTimeField(
        null=True, blank=True, help_text="When the sweeper stopped trying: see why in parked_as."
    )
    parked_as = models.CharField(
        max_length=20,
        blank=True,
        default="",
        help_text="no_subscribers: nobody listens to it; dead_letter: publishing failed too often.",
    )

    class Meta:
        ordering = ["sequence"]
        indexes = [
            models.Index(
                fields=["recorded_at"],
                name="outbox_pending_idx",
                condition=models.Q(published_at__isnull=True, parked_at__isnull=True),
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


class DeadLetter(models.Model):
    """A message that could not be handled: its retries ran out, or its failure was
    permanent. Kept with its payload and attempt history until an operator redrives it
    (hands it to its handler again) or discards it with a reason."""

    class State(models.TextChoices):
        OPEN = "open"
        REDRIVEN = "redriven"
        DISCARDED = "discarded"

    id = models.CharField(max_length=36, primary_key=True)
    message_id = models.CharField(max_length=36, db_index=True)
    message_type = models.CharField(max_length=100)
    handler = models.CharField(max_length=100, help_text="The Celery task that gave up.")
    envelope = models.JSONField()
    error_code = models.CharField(max_length=100)
    error = models.TextField()
    attempts = models.PositiveIntegerField()
    history = models.JSONField(default=list, help_text="One entry per failed attempt: when and why.")
    state = models.CharField(max_length=20, choices=State.choices, default=State.OPEN, db_index=True)
    resolution = models.TextField(blank=True, help_text="Why it was discarded, or what the redrive did.")
    resolved_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(db_index=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [
            ("redrive_deadletter", "Can redrive dead letters"),
            ("discard_deadletter", "Can discard dead letters"),
        ]

    def __str__(self) -> str:
        return f"{self.message_type} → {self.handler} ({self.state})"


class StepLease(models.Model):
    """Who is executing a run's step now: taken before the step's first side effect, so a
    second delivery (a redelivery, the stuck-run sweeper's re-dispatch) waits instead of
    running it alongside. ``fence`` grows with every holder; an outcome is recorded only
    by the holder whose fence is still current, so one that lost its lease (it stalled past
    ``expires_at`` and another took over) cannot record a stale outcome."""

    run_id = models.CharField(max_length=36)
    step = models.CharField(max_length=50)
    fence = models.PositiveIntegerField(default=0)
    message_id = models.CharField(max_length=36, help_text="The RunStep delivery holding it.")
    holder = models.CharField(max_length=200, help_text="host:pid of the process holding it.")
    attempt = models.PositiveIntegerField(default=1)
    acquired_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    released_at = models.DateTimeField(null=True, blank=True)
    succeeded_at = models.DateTimeField(
        null=True, blank=True, help_text="When a delivery last recorded the step's success."
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run_id", "step"], name="one_lease_per_step")]

    def __str__(self) -> str:
        return f"{self.step} of {self.run_id} (fence {self.fence})"

from django.db import models

# Importing the contracts here also registers DeliverWebhook with the message registry
# whenever this app is loaded, so a worker can decode it before any handler is imported.
from apps.notifications.contracts import DELIVERY_STATES, OUTCOMES, PENDING


class WebhookSubscription(models.Model):
    """An API client's wish to be POSTed the events it may see, signed with its secret.

    The secret is stored encrypted (``secret_store``) and shown only when it is made.
    """

    id = models.CharField(max_length=36, primary_key=True)
    client_id = models.CharField(max_length=36, db_index=True, help_text="The API client that subscribed.")
    url = models.CharField(max_length=2000, help_text="An http(s) URL; receives signed POSTs.")
    secret_encrypted = models.TextField(
        help_text="The HMAC-SHA256 signing secret, encrypted with WEBHOOK_SECRET_KEYS; never shown."
    )
    events = models.JSONField(default=list, blank=True, help_text="Event types wanted; empty means all.")
    description = models.CharField(max_length=200, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField()
    failing_since = models.DateTimeField(
        null=True, blank=True, help_text="First failed attempt since the last delivery that succeeded."
    )
    unhealthy_since = models.DateTimeField(
        null=True, blank=True, help_text="When it was marked unhealthy (failing for WEBHOOK_UNHEALTHY_AFTER_SECONDS)."
    )
    disabled_at = models.DateTimeField(
        null=True, blank=True, help_text="When it was disabled for failing (WEBHOOK_DISABLE_AFTER_SECONDS)."
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "webhook subscription"
        permissions = [("rotate_secret", "Can rotate a webhook subscription's signing secret (and see the new one)")]

    def __str__(self) -> str:
        return self.url

    def wants(self, event_type: str) -> bool:
        return not self.events or event_type in self.events


class WebhookDelivery(models.Model):
    """One event for one subscription: what is POSTed, and how the attempts went."""

    id = models.CharField(max_length=36, primary_key=True)
    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.CharField(max_length=36, help_text="The id of the event delivered (its message id).")
    event_type = models.CharField(max_length=30, db_index=True)
    payload = models.JSONField()
    state = models.CharField(max_length=20, choices=[(s, s) for s in DELIVERY_STATES], default=PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_outcome = models.CharField(
        max_length=40, blank=True, help_text="What the last attempt came to, as the client sees it (a category)."
    )
    last_error = models.TextField(blank=True, help_text="What went wrong, in detail: for operators only.")
    created_at = models.DateTimeField()
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "webhook delivery"
        verbose_name_plural = "webhook deliveries"
        constraints = [
            # A redelivered event finds its delivery instead of making a second one.
            models.UniqueConstraint(fields=["subscription", "event_id"], name="one_delivery_per_event"),
        ]
        indexes = [models.Index(fields=["subscription", "-created_at"], name="delivery_latest_idx")]
        permissions = [("redeliver_webhookdelivery", "Can deliver failed webhook deliveries again")]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id} ({self.state})"


class EmailNotification(models.Model):
    """The email log: at most one email per request and outcome, whoever asks twice."""

    id = models.CharField(max_length=36, primary_key=True)
    request_id = models.CharField(max_length=36, db_index=True)
    outcome = models.CharField(max_length=20, choices=[(o, o) for o in OUTCOMES])
    recipients = models.JSONField(default=list)
    subject = models.CharField(max_length=300)
    body = models.TextField()
    created_at = models.DateTimeField()
    send_started_at = models.DateTimeField(
        null=True, blank=True, help_text="Committed before the provider is called; cleared when that call fails."
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    message_id = models.CharField(max_length=200, blank=True, help_text="The email provider's message id.")
    unconfirmed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="A send was started but its outcome never recorded (the process died): not sent again.",
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["request_id", "outcome"], name="one_email_per_request_outcome"),
        ]

    def __str__(self) -> str:
        return f"{self.outcome} {self.request_id}"


class IntegrationCall(models.Model):
    """One ``http`` step's call of an integration endpoint for one run: what it POSTed to
    whom, and what came of it (at once, or by the endpoint's callback)."""

    class Status(models.TextChoices):
        POSTING = "posting"  # not yet answered: the step POSTs (again)
        WAITING = "waiting"  # answered 202: waiting for the callback
        COMPLETED = "completed"
        FAILED = "failed"  # the endpoint said so (its callback); the step has not yet reported it
        CLOSED = "closed"  # failed or past its deadline, and reported: a new run of the step calls again

    id = models.CharField(max_length=36, primary_key=True)
    run_id = models.CharField(max_length=36, db_index=True)
    step = models.CharField(max_length=50)
    request_id = models.CharField(max_length=36, blank=True)
    endpoint = models.CharField(max_length=100)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.POSTING)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    outputs = models.JSONField(default=dict, blank=True)
    message = models.TextField(blank=True)
    error_code = models.CharField(max_length=100, blank=True)
    deadline_at = models.DateTimeField()
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["run_id", "step"],
                condition=~models.Q(status="closed"),
                name="notifications_one_open_call_per_step",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.step} → {self.endpoint} ({self.status})"

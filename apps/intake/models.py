from django.db import models

from apps.intake.contracts import LIVE_STATUSES, STATUSES


class AccountRequest(models.Model):
    """A client's request for a new account, as accepted."""

    id = models.CharField(max_length=36, primary_key=True)
    client_id = models.CharField(max_length=36, db_index=True, help_text="The API client that asked.")
    payer = models.CharField(max_length=10)
    environment = models.CharField(max_length=20)
    region = models.CharField(max_length=30)
    regulated = models.BooleanField()
    account_email = models.EmailField(max_length=254)
    external_transaction_id = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=20, choices=[(s, s) for s in STATUSES], db_index=True)
    body = models.JSONField(help_text="The validated request body.")
    failure = models.TextField(blank=True)
    approved_by = models.CharField(max_length=150, blank=True, help_text="Who approved it (regulated requests).")
    approved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(db_index=True)
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # Duplicate detection that holds under concurrency: the database refuses a
            # second live request for the same account email, whoever commits first.
            models.UniqueConstraint(
                fields=["account_email"],
                condition=models.Q(status__in=LIVE_STATUSES),
                name="one_live_request_per_account_email",
            ),
        ]
        # The operator console's actions on requests (apps/intake/admin.py).
        permissions = [
            ("approve_accountrequest", "Can approve account requests awaiting approval"),
            ("reject_accountrequest", "Can reject account requests awaiting approval"),
            ("retry_accountrequest", "Can retry failed or cancelled account requests"),
            ("cancel_accountrequest", "Can cancel unfinished account requests"),
        ]

    def __str__(self) -> str:
        return f"{self.account_email} ({self.status})"


class IdempotencyKey(models.Model):
    """A client's ``Idempotency-Key``: a retry with the same key and body gets the original
    answer (the same request), a different body with the same key is refused."""

    client_id = models.CharField(max_length=36)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the validated request body.")
    request_id = models.CharField(max_length=36)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["client_id", "key"], name="one_use_per_client_key")]

    def __str__(self) -> str:
        return f"{self.client_id}:{self.key}"

from django.db import models

from apps.intake.contracts import FAILED, STATUSES


class AccountRequest(models.Model):
    """A client's request for a new account, as accepted."""

    id = models.CharField(max_length=36, primary_key=True)
    client_id = models.CharField(max_length=36, db_index=True, help_text="The API client that asked.")
    payer = models.CharField(max_length=10)
    environment = models.CharField(max_length=20)
    region = models.CharField(max_length=30)
    regulated = models.BooleanField()
    account_email = models.EmailField(max_length=254)
    external_transaction_id = models.CharField(max_length=50, blank=True)
    status = models.CharField(max_length=20, choices=[(s, s) for s in STATUSES], db_index=True)
    body = models.JSONField(help_text="The validated request body.")
    failure = models.TextField(blank=True)
    created_at = models.DateTimeField(db_index=True)
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # Duplicate detection that holds under concurrency: the database refuses a
            # second live request for the same account email, whoever commits first.
            models.UniqueConstraint(
                fields=["account_email"],
                condition=~models.Q(status=FAILED),
                name="one_live_request_per_account_email",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_email} ({self.status})"

from django.db import models


class ComplianceSnapshot(models.Model):
    """One reading of a member account's AWS Config rule compliance.

    ``rules`` is ``[{"rule", "compliance", "non_compliant_resources": [{"type", "id"}]}]``
    (resources listed for NON_COMPLIANT rules only, capped per rule). Snapshots are kept,
    not overwritten: the previous one says which non-compliant rules are new.
    """

    id = models.CharField(max_length=36, primary_key=True)
    aws_account_id = models.CharField(max_length=12)
    payer = models.CharField(max_length=10)
    taken_at = models.DateTimeField()
    rules = models.JSONField(default=list)
    # The account's guardrails as read: [{"check", "region", "ok", "detail"}] (accounts
    # vended with guardrails only; docs/guardrails.md).
    guardrails = models.JSONField(default=list, blank=True)
    compliant = models.BooleanField()

    class Meta:
        ordering = ["-taken_at"]
        indexes = [models.Index(fields=["aws_account_id", "-taken_at"], name="snapshot_account_latest")]

    def __str__(self) -> str:
        state = "compliant" if self.compliant else "NON_COMPLIANT"
        return f"{self.aws_account_id} {state} at {self.taken_at:%Y-%m-%d %H:%M}"

from django.db import models


class ApiClient(models.Model):
    """A system or person that calls the API (a ticketing system, a portal, a script)."""

    id = models.CharField(max_length=36, primary_key=True)
    name = models.CharField(max_length=100, unique=True)
    scopes = models.JSONField(default=list)
    all_payers = models.BooleanField(
        default=False,
        help_text="Every payer, present and future. Only for clients with the operations:admin scope.",
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField()
    iam_arns = models.JSONField(
        default=list,
        blank=True,
        help_text="IAM principal ARNs that act as this client on the legacy paths behind API Gateway's IAM "
        "authorization.",
    )

    class Meta:
        ordering = ["name"]
        verbose_name = "API client"

    def __str__(self) -> str:
        return self.name


class PayerGrant(models.Model):
    """A payer whose requests and accounts a client may act on. Payers belong to the
    accounts context, so the grant names the payer rather than pointing at its row."""

    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE, related_name="grants")
    payer = models.CharField(max_length=10, help_text="The payer's name.")
    environments = models.JSONField(
        default=list, blank=True, help_text="Only these environments of the payer; empty: all of them."
    )

    class Meta:
        ordering = ["client", "payer"]
        constraints = [models.UniqueConstraint(fields=["client", "payer"], name="one_grant_per_client_and_payer")]

    def __str__(self) -> str:
        narrowed = f" ({', '.join(self.environments)})" if self.environments else ""
        return f"{self.payer}{narrowed}"


class ApiToken(models.Model):
    """A bearer token. Only its SHA-256 is stored; the token itself is shown once."""

    id = models.CharField(max_length=36, primary_key=True)
    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE, related_name="tokens")
    prefix = models.CharField(
        max_length=16, unique=True, help_text="Public part, to find the token and tell tokens apart."
    )
    digest = models.CharField(max_length=64)
    scopes = models.JSONField(default=list, help_text="What this token may do: a subset of its client's scopes.")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(help_text="After this the token answers 401 token_expired.")
    issued_by = models.CharField(
        max_length=160, blank=True, help_text="Who issued it: a token's prefix, an operator, or a command."
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"bsp_{self.prefix}_…"


class SigV4Key(models.Model):
    """An access key pair for Signature Version 4 on the legacy paths. The secret is kept
    encrypted (it is what verification needs: the signing key is derived from it per day,
    region and service); it is shown once, when issued."""

    access_key_id = models.CharField(max_length=20, primary_key=True)
    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE, related_name="sigv4_keys")
    secret_encrypted = models.TextField(help_text="The secret access key, encrypted with CLIENT_SECRET_KEYS.")
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "SigV4 access key"

    def __str__(self) -> str:
        return self.access_key_id

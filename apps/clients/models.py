from django.db import models


class ApiClient(models.Model):
    """A system or person that calls the API (a ticketing system, a portal, a script)."""

    id = models.CharField(max_length=36, primary_key=True)
    name = models.CharField(max_length=100, unique=True)
    scopes = models.JSONField(default=list)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]
        verbose_name = "API client"

    def __str__(self) -> str:
        return self.name


class ApiToken(models.Model):
    """A bearer token. Only its SHA-256 is stored; the token itself is shown once."""

    id = models.CharField(max_length=36, primary_key=True)
    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE, related_name="tokens")
    prefix = models.CharField(
        max_length=16, unique=True, help_text="Public part, to find the token and tell tokens apart."
    )
    digest = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"bsp_{self.prefix}_…"

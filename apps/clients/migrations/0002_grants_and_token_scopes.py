from datetime import timedelta

import django.db.models.deletion
from django.db import migrations, models

OPERATIONS_ADMIN = "operations:admin"
TOKEN_TTL = timedelta(days=90)


def grant_existing_clients(apps, schema_editor):  # type: ignore[no-untyped-def]
    """Clients made before grants existed keep what they could do: operators every payer,
    the others every payer that exists now (an operator narrows them in the admin). Each
    token gets its client's scopes and a 90-day life from when it was made."""
    ApiClient = apps.get_model("clients", "ApiClient")
    ApiToken = apps.get_model("clients", "ApiToken")
    PayerGrant = apps.get_model("clients", "PayerGrant")
    Payer = apps.get_model("accounts", "Payer")
    payers = list(Payer.objects.values_list("name", flat=True))
    for client in ApiClient.objects.all():
        if OPERATIONS_ADMIN in (client.scopes or []):
            client.all_payers = True
            client.save(update_fields=["all_payers"])
        else:
            for payer in payers:
                PayerGrant.objects.get_or_create(client=client, payer=payer, defaults={"environments": []})
    for token in ApiToken.objects.select_related("client"):
        token.scopes = list(token.client.scopes or [])
        token.expires_at = token.created_at + TOKEN_TTL
        token.save(update_fields=["scopes", "expires_at"])


class Migration(migrations.Migration):
    dependencies = [
        ("clients", "0001_initial"),
        ("accounts", "0006_account_commands"),
    ]

    operations = [
        migrations.AddField(
            model_name="apiclient",
            name="all_payers",
            field=models.BooleanField(
                default=False,
                help_text="Every payer, present and future. Only for clients with the operations:admin scope.",
            ),
        ),
        migrations.CreateModel(
            name="PayerGrant",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("payer", models.CharField(help_text="The payer's name.", max_length=10)),
                (
                    "environments",
                    models.JSONField(
                        blank=True, default=list, help_text="Only these environments of the payer; empty: all of them."
                    ),
                ),
                (
                    "client",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="grants", to="clients.apiclient"
                    ),
                ),
            ],
            options={
                "ordering": ["client", "payer"],
                "constraints": [
                    models.UniqueConstraint(fields=("client", "payer"), name="one_grant_per_client_and_payer")
                ],
            },
        ),
        migrations.AddField(
            model_name="apitoken",
            name="scopes",
            field=models.JSONField(default=list, help_text="What this token may do: a subset of its client's scopes."),
        ),
        migrations.AddField(
            model_name="apitoken",
            name="expires_at",
            field=models.DateTimeField(null=True, help_text="After this the token answers 401 token_expired."),
        ),
        migrations.AddField(
            model_name="apitoken",
            name="issued_by",
            field=models.CharField(
                blank=True,
                help_text="Who issued it: a token's prefix, an operator, or a command.",
                max_length=160,
            ),
        ),
        migrations.RunPython(grant_existing_clients, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="apitoken",
            name="expires_at",
            field=models.DateTimeField(help_text="After this the token answers 401 token_expired."),
        ),
    ]

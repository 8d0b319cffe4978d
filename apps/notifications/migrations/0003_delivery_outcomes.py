"""Deliveries record what their last attempt came to as a category clients may see
(``last_outcome``); ``last_error`` keeps the detail, for operators only. Existing
deliveries get the category their recorded status or error stands for."""

from django.db import migrations, models


def _outcome(status: int | None, error: str, attempts: int) -> str:
    if status is not None:
        return "redirect" if 300 <= status < 400 else f"http_{status}"
    if error.startswith("No answer within"):
        return "timeout"
    if "deactivated" in error:
        return "subscription_inactive"
    return "connection_failed" if attempts else ""


def fill_outcomes(apps, schema_editor):  # type: ignore[no-untyped-def]
    WebhookDelivery = apps.get_model("notifications", "WebhookDelivery")
    for delivery in WebhookDelivery.objects.exclude(last_status_code=None, last_error="").iterator():
        delivery.last_outcome = _outcome(delivery.last_status_code, delivery.last_error, delivery.attempts)
        delivery.save(update_fields=["last_outcome"])


class Migration(migrations.Migration):
    dependencies = [("notifications", "0002_admin_action_permissions")]

    operations = [
        migrations.AddField(
            model_name="webhookdelivery",
            name="last_outcome",
            field=models.CharField(
                blank=True,
                help_text="What the last attempt came to, as the client sees it (a category).",
                max_length=40,
            ),
        ),
        migrations.AlterField(
            model_name="webhookdelivery",
            name="last_error",
            field=models.TextField(blank=True, help_text="What went wrong, in detail: for operators only."),
        ),
        migrations.RunPython(fill_outcomes, migrations.RunPython.noop),
    ]

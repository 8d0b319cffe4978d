"""Operators approve and reject account commands awaiting approval (four eyes) and rotate
webhook signing secrets."""

from django.db import migrations

from apps.console.groups import groups_ensure


class Migration(migrations.Migration):
    dependencies = [
        ("console", "0001_operator_groups"),
        ("accounts", "0009_command_approval_permissions"),
        ("notifications", "0004_encrypt_webhook_secrets"),
    ]

    operations = [migrations.RunPython(groups_ensure, migrations.RunPython.noop)]

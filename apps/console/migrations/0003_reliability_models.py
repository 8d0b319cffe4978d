"""Viewers see the step leases (who executes a step now)."""

from django.db import migrations

from apps.console.groups import groups_ensure


class Migration(migrations.Migration):
    dependencies = [
        ("console", "0002_approvals_and_secret_rotation"),
        ("kernel", "0005_reliability"),
        ("notifications", "0005_reliability"),
    ]

    operations = [migrations.RunPython(groups_ensure, migrations.RunPython.noop)]

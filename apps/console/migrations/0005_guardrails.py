"""Viewers see the payers' service control policies and their versions; operators add and
change them."""

from django.db import migrations

from apps.console.groups import groups_ensure


class Migration(migrations.Migration):
    dependencies = [
        ("console", "0004_vlan_pools_and_integration_calls"),
        ("accounts", "0010_guardrails"),
    ]

    operations = [migrations.RunPython(groups_ensure, migrations.RunPython.noop)]

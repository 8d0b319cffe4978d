"""Viewers see VLAN pools and their allocations and integration calls; operators add and
change VLAN pools."""

from django.db import migrations

from apps.console.groups import groups_ensure


class Migration(migrations.Migration):
    dependencies = [
        ("console", "0003_reliability_models"),
        ("network", "0003_vlan_pools"),
        ("notifications", "0006_integration_calls"),
    ]

    operations = [migrations.RunPython(groups_ensure, migrations.RunPython.noop)]

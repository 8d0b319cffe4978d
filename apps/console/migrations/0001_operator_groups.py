"""The ``viewers`` and ``operators`` groups (apps/console/groups.py), after every
context's models and their action permissions exist."""

from django.db import migrations

from apps.console.groups import groups_ensure


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("accounts", "0007_admin_action_permissions"),
        ("audit", "0002_append_only_trigger"),
        ("clients", "0002_grants_and_token_scopes"),
        ("compliance", "0001_compliance_snapshot"),
        ("intake", "0005_admin_action_permissions"),
        ("kernel", "0004_admin_action_permissions"),
        ("network", "0001_initial"),
        ("notifications", "0002_admin_action_permissions"),
        ("workflow", "0005_admin_action_permissions"),
    ]

    operations = [
        # Only adds (groups and their permissions): undoing it takes nothing away.
        migrations.RunPython(groups_ensure, migrations.RunPython.noop),
    ]

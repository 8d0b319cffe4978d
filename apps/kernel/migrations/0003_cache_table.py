from django.core.management import call_command
from django.db import migrations


def create_cache_tables(apps, schema_editor):  # type: ignore[no-untyped-def]
    """The database cache's table, where settings use one (serverless without a cache
    server: rate limits are counted there). Does nothing for other cache backends; run
    ``manage.py createcachetable`` after switching a deployed stage to the database cache."""
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("kernel", "0002_dead_letters")]

    operations = [migrations.RunPython(create_cache_tables, migrations.RunPython.noop)]

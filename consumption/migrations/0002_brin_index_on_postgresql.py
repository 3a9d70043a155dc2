"""On PostgreSQL, a BRIN index on the samples' start: tiny, cheap to keep up during bulk imports,
and enough for the time-range scans at a report period's edges. Other databases rely on the
(project, start) index."""

from django.db import migrations


def create_brin(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS usage_sample_start_brin "
            "ON consumption_usagesample USING brin (start_epoch)"
        )


def drop_brin(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS usage_sample_start_brin")


class Migration(migrations.Migration):
    dependencies = [("consumption", "0001_usage")]

    operations = [migrations.RunPython(create_brin, drop_brin)]

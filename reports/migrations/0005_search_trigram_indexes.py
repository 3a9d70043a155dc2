"""PostgreSQL only: trigram indexes for the Reports table's text search, so that a search for
a word in the name, description or creator reads the reports that contain it rather than all of
a tenant's. The expressions are the ones Django writes for `icontains`. Other databases, and a
PostgreSQL without the pg_trgm extension, go without: searches still work, only slower."""

from django.db import migrations

TABLE = "reports_report"
COLUMNS = ("name", "description", "created_by")


def create_indexes(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
        if cursor.fetchone() is None:
            return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in COLUMNS:
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS report_{column}_trigram ON {TABLE} '
            f'USING gin (UPPER("{column}"::text) gin_trgm_ops)'
        )


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for column in COLUMNS:
        schema_editor.execute(f"DROP INDEX IF EXISTS report_{column}_trigram")


class Migration(migrations.Migration):
    dependencies = [("reports", "0004_table_indexes")]

    operations = [migrations.RunPython(create_indexes, drop_indexes, elidable=False)]

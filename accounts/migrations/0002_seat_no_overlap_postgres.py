"""On PostgreSQL the database itself refuses overlapping seats of one email.

SQLite (the embedded demo default) relies on the service's locked check.
"""

from django.db import migrations

CREATE = """
CREATE EXTENSION IF NOT EXISTS btree_gist;
ALTER TABLE accounts_seat ADD CONSTRAINT seat_no_overlap EXCLUDE USING gist (
    customer_id WITH =, lower(email) WITH =,
    tstzrange(active_from, active_until, '[)') WITH &&
);
"""
DROP = "ALTER TABLE accounts_seat DROP CONSTRAINT IF EXISTS seat_no_overlap;"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]

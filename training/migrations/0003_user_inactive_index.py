"""Index the few inactive people, so the compliance total never joins members to auth_user.

`queries.compliance_count` counts members in the group index and takes off the inactive ones,
found here (a handful of entries) instead of by reading every person's row. auth_user belongs
to django.contrib.auth, so the index is plain SQL (a partial index: same on SQLite and
PostgreSQL), as in core.0003.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("training", "0002_record_user_course_index"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS auth_user_inactive_idx ON auth_user (id) WHERE NOT is_active",
            "DROP INDEX IF EXISTS auth_user_inactive_idx",
        )
    ]

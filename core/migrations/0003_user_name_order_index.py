"""People are listed by name everywhere (compliance reports, CSV exports): index that order.

auth_user belongs to django.contrib.auth, so the index is plain SQL (same on SQLite and
PostgreSQL). With it the first page of a report ordered by person walks the index and stops
after the page instead of sorting every row (README, "Performance").
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0002_roles"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS auth_user_name_order_idx "
            "ON auth_user (last_name, first_name, username, id)",
            "DROP INDEX IF EXISTS auth_user_name_order_idx",
        )
    ]

"""A report may be unclassified (no category) until triage; past triage it has one.

On SQLite both operations on `incidents_incident` remake the table, which drops the tally
triggers of migration 0002 with the old table: they are put back after (and, undoing this
migration, after its own remakes).
"""

from importlib import import_module

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from core.migration_sql import run_sql_per_vendor

_TALLY = import_module("incidents.migrations.0002_confidential_index_and_tally")
SQLITE_TALLY_TRIGGERS = [
    statement for statement in _TALLY.SQLITE_FORWARD if statement.startswith("CREATE TRIGGER")
]
RESTORE = {
    "sqlite": [
        *(f"DROP TRIGGER IF EXISTS incidents_tally_{op}" for op in ("insert", "update", "delete")),
        *SQLITE_TALLY_TRIGGERS,
    ],
    "postgresql": [],  # ALTER TABLE keeps PostgreSQL's triggers
}
NOTHING = {"sqlite": [], "postgresql": []}


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0005_constraint_messages"),
        ("plans", "0006_constraint_messages"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        run_sql_per_vendor(NOTHING, RESTORE, what="incident tally triggers"),
        migrations.AlterField(
            model_name="historicalincident",
            name="category",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                help_text="The kind of incident; empty (unclassified) until triage.",
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="incidents.category",
            ),
        ),
        migrations.AlterField(
            model_name="incident",
            name="category",
            field=models.ForeignKey(
                blank=True,
                help_text="The kind of incident; empty (unclassified) until triage.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="incidents",
                to="incidents.category",
            ),
        ),
        migrations.AddConstraint(
            model_name="incident",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("category__isnull", False),
                    ("status__in", ["reported", "cancelled"]),
                    _connector="OR",
                ),
                name="incident_classified_after_triage",
                violation_error_message="Choose the kind of incident (its category): only a report awaiting triage may be unclassified.",
            ),
        ),
        run_sql_per_vendor(RESTORE, NOTHING, what="incident tally triggers"),
    ]

"""The incident tally: how many incidents exist, confidential or not, kept by the database.

An incident list shows the total of what the reader may see. Counting it exactly means
visiting every incident (35 ms at 100,000 on PostgreSQL, and growing with the table).
The tally holds the two totals in one row, kept by triggers on `incidents_incident` in the
same transaction as the write, so it is exact for every reader, whatever path wrote (the
services, the admin, a bulk load, raw SQL); `incidents.queries.visible_count` adds the
confidential incidents the reader may see, counted from the small partial index below.

- PostgreSQL: statement triggers with transition tables (one UPDATE per statement, not per
  row; an UPDATE that does not change `confidential` leaves the tally row alone, so ordinary
  edits never wait on it), and a TRUNCATE trigger that zeroes it.
- SQLite: row triggers (SQLite has no statement triggers); `confidential` updates only.

The tally is derived data, not a record of anyone's work: it has no history, and it is not a
Django model. Rebuilding `incidents_incident` (a SQLite table remake in a later migration)
drops its triggers; `tests/incidents/test_tally.py` fails if that ever happens unnoticed.
"""

from django.conf import settings
from django.db import migrations, models

from core.migration_sql import (
    pg_drop_statement_triggers,
    pg_statement_triggers,
    run_sql_per_vendor,
)

TABLE = "incidents_incident_tally"
SEED = f"""INSERT INTO {TABLE} (id, public_count, confidential_count) VALUES (1,
    (SELECT COUNT(*) FROM incidents_incident WHERE NOT confidential),
    (SELECT COUNT(*) FROM incidents_incident WHERE confidential))"""

CREATE = [
    f"""CREATE TABLE {TABLE} (
        id integer NOT NULL PRIMARY KEY CHECK (id = 1),
        public_count bigint NOT NULL,
        confidential_count bigint NOT NULL)""",
    SEED,
]

SQLITE_FORWARD = [
    *CREATE,
    f"""CREATE TRIGGER incidents_tally_insert AFTER INSERT ON incidents_incident BEGIN
        UPDATE {TABLE} SET public_count = public_count + (NOT NEW.confidential),
                           confidential_count = confidential_count + (NEW.confidential <> 0);
    END""",
    f"""CREATE TRIGGER incidents_tally_update AFTER UPDATE OF confidential ON incidents_incident
    WHEN OLD.confidential <> NEW.confidential BEGIN
        UPDATE {TABLE} SET public_count = public_count + (NOT NEW.confidential) - (NOT OLD.confidential),
                           confidential_count = confidential_count + (NEW.confidential <> 0)
                                                - (OLD.confidential <> 0);
    END""",
    f"""CREATE TRIGGER incidents_tally_delete AFTER DELETE ON incidents_incident BEGIN
        UPDATE {TABLE} SET public_count = public_count - (NOT OLD.confidential),
                           confidential_count = confidential_count - (OLD.confidential <> 0);
    END""",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS incidents_tally_insert",
    "DROP TRIGGER IF EXISTS incidents_tally_update",
    "DROP TRIGGER IF EXISTS incidents_tally_delete",
    f"DROP TABLE IF EXISTS {TABLE}",
]


def _pg_function(name, delta_public, delta_confidential):
    return f"""CREATE OR REPLACE FUNCTION {name}() RETURNS trigger AS $$
    DECLARE
      d_public bigint := {delta_public};
      d_confidential bigint := {delta_confidential};
    BEGIN
      IF d_public <> 0 OR d_confidential <> 0 THEN
        UPDATE {TABLE} SET public_count = public_count + d_public,
                           confidential_count = confidential_count + d_confidential;
      END IF;
      RETURN NULL;
    END $$ LANGUAGE plpgsql"""


def _count(rows, confidential):
    return f"(SELECT COUNT(*) FROM {rows} WHERE {'' if confidential else 'NOT '}confidential)"


PG_FORWARD = [
    *CREATE,
    _pg_function("incidents_tally_insert", _count("new_rows", False), _count("new_rows", True)),
    _pg_function(
        "incidents_tally_update",
        f"{_count('new_rows', False)} - {_count('old_rows', False)}",
        f"{_count('new_rows', True)} - {_count('old_rows', True)}",
    ),
    _pg_function(
        "incidents_tally_delete",
        f"-{_count('old_rows', False)}",
        f"-{_count('old_rows', True)}",
    ),
    f"""CREATE OR REPLACE FUNCTION incidents_tally_truncate() RETURNS trigger AS $$
    BEGIN
      UPDATE {TABLE} SET public_count = 0, confidential_count = 0;
      RETURN NULL;
    END $$ LANGUAGE plpgsql""",
    *pg_statement_triggers("incidents_incident", "incidents_tally"),
]
PG_BACKWARD = [
    *pg_drop_statement_triggers("incidents_incident", "incidents_tally"),
    f"DROP TABLE IF EXISTS {TABLE}",
]


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0001_initial"),
        ("plans", "0002_immutability_triggers"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name="incident",
            index=models.Index(
                condition=models.Q(("confidential", True)),
                fields=["id"],
                include=("confidential", "incident_manager", "reporter"),
                name="incident_confidential_idx",
            ),
        ),
        run_sql_per_vendor(
            {"sqlite": SQLITE_FORWARD, "postgresql": PG_FORWARD},
            {"sqlite": SQLITE_BACKWARD, "postgresql": PG_BACKWARD},
            what="incident tally",
        ),
    ]

"""The manager tally: how many non-confidential incidents each person manages, kept by the
database.

The incident list's "incident manager" filter offers the people who manage an incident its
reader may see. Finding them among the incidents visits every incident (6 ms at 100,000
on PostgreSQL, growing with the table). Every reader of the list sees every
non-confidential incident, so the people managing one of those are the rows of this tally
with a count; `incidents.queries.incident_managers` adds the managers of the confidential
incidents the reader may see, from the small partial index of migration 0002.

Kept as the incident tally is (0002): by triggers on `incidents_incident`, in the same
transaction as the write, whatever path wrote.

- PostgreSQL: statement triggers with transition tables; the changes of a statement are
  summed per manager and only managers whose count moves are written (an edit that keeps
  the manager and `confidential` writes nothing, so ordinary edits never wait on the
  tally); in manager order, so two statements lock rows in the same order.
- SQLite: row triggers, on `incident_manager_id` and `confidential` updates only.

Derived data, not a record of anyone's work: no history, not a Django model. A SQLite
table remake of `incidents_incident` drops these triggers; `tests/incidents/test_tally.py`
fails if that happens unnoticed.
"""

from django.db import migrations

from core.migration_sql import (
    pg_drop_statement_triggers,
    pg_statement_triggers,
    run_sql_per_vendor,
)

TABLE = "incidents_manager_tally"
COUNTED = "NOT {t}.confidential AND {t}.incident_manager_id IS NOT NULL"

CREATE = [
    f"""CREATE TABLE {TABLE} (
        manager_id bigint NOT NULL PRIMARY KEY,
        public_count bigint NOT NULL)""",
    f"""INSERT INTO {TABLE} (manager_id, public_count)
        SELECT i.incident_manager_id, COUNT(*) FROM incidents_incident i
        WHERE {COUNTED.format(t="i")} GROUP BY i.incident_manager_id""",
]

SQLITE_FORWARD = [
    *CREATE,
    f"""CREATE TRIGGER incidents_manager_tally_insert AFTER INSERT ON incidents_incident
    WHEN {COUNTED.format(t="NEW")} BEGIN
        INSERT INTO {TABLE} (manager_id, public_count) VALUES (NEW.incident_manager_id, 1)
        ON CONFLICT (manager_id) DO UPDATE SET public_count = public_count + 1;
    END""",
    f"""CREATE TRIGGER incidents_manager_tally_update
    AFTER UPDATE OF incident_manager_id, confidential ON incidents_incident
    WHEN OLD.incident_manager_id IS NOT NEW.incident_manager_id
         OR OLD.confidential <> NEW.confidential BEGIN
        UPDATE {TABLE} SET public_count = public_count - 1
        WHERE manager_id = OLD.incident_manager_id AND NOT OLD.confidential;
        INSERT INTO {TABLE} (manager_id, public_count)
        SELECT NEW.incident_manager_id, 1 WHERE {COUNTED.format(t="NEW")}
        ON CONFLICT (manager_id) DO UPDATE SET public_count = public_count + 1;
    END""",
    f"""CREATE TRIGGER incidents_manager_tally_delete AFTER DELETE ON incidents_incident
    WHEN {COUNTED.format(t="OLD")} BEGIN
        UPDATE {TABLE} SET public_count = public_count - 1
        WHERE manager_id = OLD.incident_manager_id;
    END""",
]
SQLITE_BACKWARD = [
    *(
        f"DROP TRIGGER IF EXISTS incidents_manager_tally_{op}"
        for op in ("insert", "update", "delete")
    ),
    f"DROP TABLE IF EXISTS {TABLE}",
]


def _counted(rows, sign):
    return (
        f"SELECT r.incident_manager_id AS manager_id, {sign}1 AS d FROM {rows} r "
        f"WHERE {COUNTED.format(t='r')}"
    )


def _pg_function(name, *parts):
    changes = " UNION ALL ".join(parts)
    return f"""CREATE OR REPLACE FUNCTION {name}() RETURNS trigger AS $$
    BEGIN
      INSERT INTO {TABLE} (manager_id, public_count)
      SELECT manager_id, SUM(d) FROM ({changes}) changes
      GROUP BY manager_id HAVING SUM(d) <> 0 ORDER BY manager_id
      ON CONFLICT (manager_id) DO UPDATE
        SET public_count = {TABLE}.public_count + EXCLUDED.public_count;
      RETURN NULL;
    END $$ LANGUAGE plpgsql"""


PG_FORWARD = [
    *CREATE,
    _pg_function("incidents_manager_tally_insert", _counted("new_rows", "+")),
    _pg_function(
        "incidents_manager_tally_update", _counted("new_rows", "+"), _counted("old_rows", "-")
    ),
    _pg_function("incidents_manager_tally_delete", _counted("old_rows", "-")),
    f"""CREATE OR REPLACE FUNCTION incidents_manager_tally_truncate() RETURNS trigger AS $$
    BEGIN
      DELETE FROM {TABLE};
      RETURN NULL;
    END $$ LANGUAGE plpgsql""",
    *pg_statement_triggers("incidents_incident", "incidents_manager_tally"),
]
PG_BACKWARD = [
    *pg_drop_statement_triggers("incidents_incident", "incidents_manager_tally"),
    f"DROP TABLE IF EXISTS {TABLE}",
]


class Migration(migrations.Migration):
    dependencies = [("incidents", "0014_seed_obligations")]

    operations = [
        run_sql_per_vendor(
            {"sqlite": SQLITE_FORWARD, "postgresql": PG_FORWARD},
            {"sqlite": SQLITE_BACKWARD, "postgresql": PG_BACKWARD},
            what="manager tally",
        ),
    ]

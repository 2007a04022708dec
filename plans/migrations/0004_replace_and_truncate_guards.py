"""Close the two doors the row triggers of 0002 left open: SQLite's REPLACE and PostgreSQL's TRUNCATE.

- SQLite: `REPLACE INTO` / `INSERT OR REPLACE` / `UPDATE OR REPLACE` delete the row whose
  primary or unique key the new row takes, without firing DELETE triggers (unless the
  connection set `PRAGMA recursive_triggers`, which an attacker's does not). That forged
  acknowledgements and swapped a published version for a draft of the same id. The guards
  below refuse any INSERT or UPDATE that collides with an existing row on the primary key or
  on any unique constraint of the three tables (partial ones with their condition), so a
  REPLACE conflict is refused before anything is deleted; the ordinary writes never collide
  (the unique indexes would refuse them anyway). A primary key never changes.
- PostgreSQL: row triggers do not fire on TRUNCATE; statement triggers refuse TRUNCATE of
  sections and versions while any version has left draft (0002 guards acknowledgements).
  `INSERT ... ON CONFLICT DO UPDATE` fires the UPDATE row triggers, on both databases.
"""

from django.db import migrations

from core.migration_sql import PG_REFUSED, run_sql_per_vendor

REPLACE_MSG = "plans: a write that would replace an existing row is refused"
TRUNCATE_MSG = "plans: TRUNCATE would delete the text of versions that left draft"

# Per table: the keys a row may not share with another row, as (columns, condition on a row).
KEYS = {
    "plans_section": [(("id",), None), (("version_id", "key"), None)],
    "plans_planversion": [
        (("id",), None),
        (("plan_id", "number"), None),
        (("plan_id",), "{row}.status = 'draft'"),
        (("plan_id",), "{row}.status = 'published'"),
    ],
    "plans_acknowledgement": [(("id",), None), (("user_id", "version_id"), None)],
}


def _collides(keys):
    """SQL: the row `t` holds a key the NEW row takes."""
    clauses = []
    for columns, condition in keys:
        parts = [f't."{c}" = NEW."{c}"' for c in columns]
        if condition:
            parts += [condition.format(row="t"), condition.format(row="NEW")]
        clauses.append("(" + " AND ".join(parts) + ")")
    return " OR ".join(clauses)


def _sqlite_guards(table, keys):
    refuse = f"BEGIN SELECT RAISE(ABORT, '{REPLACE_MSG}'); END"
    return [
        f"""CREATE TRIGGER {table}_no_replace_insert BEFORE INSERT ON {table}
        WHEN EXISTS (SELECT 1 FROM {table} AS t WHERE {_collides(keys)}) {refuse}""",
        f"""CREATE TRIGGER {table}_no_replace_update BEFORE UPDATE ON {table}
        WHEN NEW.id IS NOT OLD.id
          OR EXISTS (SELECT 1 FROM {table} AS t WHERE t.id <> OLD.id AND ({_collides(keys)}))
        {refuse}""",
    ]


SQLITE_FORWARD = [
    statement for table, keys in KEYS.items() for statement in _sqlite_guards(table, keys)
]
SQLITE_BACKWARD = [
    f"DROP TRIGGER IF EXISTS {table}_no_replace_{op}"
    for table in KEYS
    for op in ("insert", "update")
]

FROZEN_SECTIONS = (
    "SELECT 1 FROM plans_section s JOIN plans_planversion v ON v.id = s.version_id "
    "WHERE v.status <> 'draft'"
)
FROZEN_VERSIONS = "SELECT 1 FROM plans_planversion WHERE status <> 'draft'"


def _pg_truncate_guard(table, frozen_rows):
    return [
        f"""CREATE OR REPLACE FUNCTION {table}_truncate_guard() RETURNS trigger AS $$
        BEGIN
          IF EXISTS ({frozen_rows}) THEN
            RAISE EXCEPTION '{TRUNCATE_MSG}' USING ERRCODE = '{PG_REFUSED}';
          END IF;
          RETURN NULL;
        END $$ LANGUAGE plpgsql""",
        f"""CREATE TRIGGER {table}_truncate_guard BEFORE TRUNCATE ON {table}
        FOR EACH STATEMENT EXECUTE FUNCTION {table}_truncate_guard()""",
    ]


# ALWAYS: the guards fire under `SET session_replication_role = replica` too, which would
# otherwise skip every ordinary trigger (0002's row guards included) for that session.
PG_GUARDS = {
    "plans_section": ("plans_section_guard", "plans_section_truncate_guard"),
    "plans_planversion": ("plans_version_guard", "plans_planversion_truncate_guard"),
    "plans_acknowledgement": (
        "plans_acknowledgement_guard",
        "plans_acknowledgement_truncate_guard",
    ),
}
PG_FORWARD = [
    *_pg_truncate_guard("plans_section", FROZEN_SECTIONS),
    *_pg_truncate_guard("plans_planversion", FROZEN_VERSIONS),
    *(
        f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {name}"
        for table, names in PG_GUARDS.items()
        for name in names
    ),
]
PG_BACKWARD = [
    # 0002's guards fire as before (not ALWAYS); 0003's own go.
    "ALTER TABLE plans_section ENABLE TRIGGER plans_section_guard",
    "ALTER TABLE plans_planversion ENABLE TRIGGER plans_version_guard",
    "ALTER TABLE plans_acknowledgement ENABLE TRIGGER plans_acknowledgement_guard",
    "ALTER TABLE plans_acknowledgement ENABLE TRIGGER plans_acknowledgement_truncate_guard",
    *(
        statement
        for table in ("plans_section", "plans_planversion")
        for statement in (
            f"DROP TRIGGER IF EXISTS {table}_truncate_guard ON {table}",
            f"DROP FUNCTION IF EXISTS {table}_truncate_guard()",
        )
    ),
]


class Migration(migrations.Migration):
    dependencies = [("plans", "0003_change_request_safe_link")]

    operations = [
        run_sql_per_vendor(
            {"sqlite": SQLITE_FORWARD, "postgresql": PG_FORWARD},
            {"sqlite": SQLITE_BACKWARD, "postgresql": PG_BACKWARD},
            what="REPLACE and TRUNCATE guards",
        )
    ]

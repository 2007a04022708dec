"""Database guards for electronic signatures: a signature is never changed or deleted, no
insert takes another signature's id (SQLite REPLACE), and PostgreSQL refuses TRUNCATE of a
table holding any (an empty one may be truncated: test runners reset that way)."""

from django.db import migrations

from core.migration_sql import run_sql_per_vendor

SIGNATURE_MSG = "plans: an electronic signature can never be changed or deleted"

SQLITE_FORWARD = [
    f"""CREATE TRIGGER plans_signature_no_update BEFORE UPDATE ON plans_signature
    BEGIN SELECT RAISE(ABORT, '{SIGNATURE_MSG}'); END""",
    f"""CREATE TRIGGER plans_signature_no_delete BEFORE DELETE ON plans_signature
    BEGIN SELECT RAISE(ABORT, '{SIGNATURE_MSG}'); END""",
    f"""CREATE TRIGGER plans_signature_no_replace BEFORE INSERT ON plans_signature
    WHEN EXISTS (SELECT 1 FROM plans_signature WHERE id = NEW.id)
    BEGIN SELECT RAISE(ABORT, '{SIGNATURE_MSG}'); END""",
]
SQLITE_BACKWARD = [
    f"DROP TRIGGER IF EXISTS {name}"
    for name in (
        "plans_signature_no_update",
        "plans_signature_no_delete",
        "plans_signature_no_replace",
    )
]

# ERRCODE 23001 (restrict_violation) makes Django raise IntegrityError, as elsewhere.
# ALWAYS: replica mode (session_replication_role) does not lift them.
PG_FORWARD = [
    f"""CREATE OR REPLACE FUNCTION plans_signature_guard() RETURNS trigger AS $$
    BEGIN
      RAISE EXCEPTION '{SIGNATURE_MSG}' USING ERRCODE = '23001';
    END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER plans_signature_guard BEFORE UPDATE OR DELETE ON plans_signature
    FOR EACH ROW EXECUTE FUNCTION plans_signature_guard()""",
    f"""CREATE OR REPLACE FUNCTION plans_signature_truncate_guard() RETURNS trigger AS $$
    BEGIN
      IF EXISTS (SELECT 1 FROM plans_signature) THEN
        RAISE EXCEPTION '{SIGNATURE_MSG}' USING ERRCODE = '23001';
      END IF;
      RETURN NULL;
    END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER plans_signature_truncate_guard BEFORE TRUNCATE ON plans_signature
    FOR EACH STATEMENT EXECUTE FUNCTION plans_signature_truncate_guard()""",
    "ALTER TABLE plans_signature ENABLE ALWAYS TRIGGER plans_signature_guard",
    "ALTER TABLE plans_signature ENABLE ALWAYS TRIGGER plans_signature_truncate_guard",
]
PG_BACKWARD = [
    "DROP TRIGGER IF EXISTS plans_signature_guard ON plans_signature",
    "DROP TRIGGER IF EXISTS plans_signature_truncate_guard ON plans_signature",
    "DROP FUNCTION IF EXISTS plans_signature_guard()",
    "DROP FUNCTION IF EXISTS plans_signature_truncate_guard()",
]


class Migration(migrations.Migration):
    dependencies = [("plans", "0011_signature")]

    operations = [
        run_sql_per_vendor(
            {"sqlite": SQLITE_FORWARD, "postgresql": PG_FORWARD},
            {"sqlite": SQLITE_BACKWARD, "postgresql": PG_BACKWARD},
            what="the electronic signature guards",
        )
    ]

"""Database triggers that keep frozen plan text and acknowledgements unchanged by any path.

The models refuse these writes too; the triggers stop what bypasses the models
(QuerySet.update()/delete(), raw SQL, another program on the same database).
SQLite REPLACE and PostgreSQL TRUNCATE are guarded by 0003; history tables by
core.evidence (docs/evidence.md).
"""

from django.db import migrations

from core.migration_sql import run_sql_per_vendor

ALLOWED_STEPS = [
    ("draft", "in_review"),
    ("in_review", "approved"),
    ("in_review", "draft"),
    ("approved", "published"),
    ("published", "superseded"),
]

SECTION_MSG = "plans: the sections of a version that left draft cannot change"
VERSION_MSG = "plans: a version that left draft keeps its content and follows the workflow"
ACK_MSG = "plans: an acknowledgement can never be changed or deleted"
ACK_INSERT_MSG = "plans: an acknowledgement must carry the fingerprint of a published version"


def _steps_sql():
    return " OR ".join(f"(OLD.status = '{a}' AND NEW.status = '{b}')" for a, b in ALLOWED_STEPS)


SQLITE_STATUS = "(SELECT status FROM plans_planversion WHERE id = {ref}.version_id)"
SQLITE_FROZEN_FIELDS = (
    "NEW.content_hash IS NOT OLD.content_hash OR NEW.number <> OLD.number "
    "OR NEW.plan_id <> OLD.plan_id OR NEW.change_summary <> OLD.change_summary"
)

SQLITE_FORWARD = [
    f"""CREATE TRIGGER plans_section_frozen_insert BEFORE INSERT ON plans_section
    WHEN {SQLITE_STATUS.format(ref="NEW")} <> 'draft'
    BEGIN SELECT RAISE(ABORT, '{SECTION_MSG}'); END""",
    f"""CREATE TRIGGER plans_section_frozen_update BEFORE UPDATE ON plans_section
    WHEN {SQLITE_STATUS.format(ref="OLD")} <> 'draft' OR {SQLITE_STATUS.format(ref="NEW")} <> 'draft'
    BEGIN SELECT RAISE(ABORT, '{SECTION_MSG}'); END""",
    f"""CREATE TRIGGER plans_section_frozen_delete BEFORE DELETE ON plans_section
    WHEN {SQLITE_STATUS.format(ref="OLD")} <> 'draft'
    BEGIN SELECT RAISE(ABORT, '{SECTION_MSG}'); END""",
    f"""CREATE TRIGGER plans_version_frozen_update BEFORE UPDATE ON plans_planversion
    WHEN (OLD.status <> NEW.status AND NOT ({_steps_sql()}))
      OR (OLD.status <> 'draft' AND NEW.status <> 'draft' AND ({SQLITE_FROZEN_FIELDS}))
    BEGIN SELECT RAISE(ABORT, '{VERSION_MSG}'); END""",
    f"""CREATE TRIGGER plans_version_frozen_delete BEFORE DELETE ON plans_planversion
    WHEN OLD.status <> 'draft'
    BEGIN SELECT RAISE(ABORT, '{VERSION_MSG}'); END""",
    f"""CREATE TRIGGER plans_acknowledgement_valid_insert BEFORE INSERT ON plans_acknowledgement
    WHEN NOT EXISTS (SELECT 1 FROM plans_planversion WHERE id = NEW.version_id
                     AND status = 'published' AND content_hash = NEW.content_hash)
    BEGIN SELECT RAISE(ABORT, '{ACK_INSERT_MSG}'); END""",
    f"""CREATE TRIGGER plans_acknowledgement_no_update BEFORE UPDATE ON plans_acknowledgement
    BEGIN SELECT RAISE(ABORT, '{ACK_MSG}'); END""",
    f"""CREATE TRIGGER plans_acknowledgement_no_delete BEFORE DELETE ON plans_acknowledgement
    BEGIN SELECT RAISE(ABORT, '{ACK_MSG}'); END""",
]
SQLITE_BACKWARD = [
    f"DROP TRIGGER IF EXISTS {name}"
    for name in (
        "plans_section_frozen_insert",
        "plans_section_frozen_update",
        "plans_section_frozen_delete",
        "plans_version_frozen_update",
        "plans_version_frozen_delete",
        "plans_acknowledgement_valid_insert",
        "plans_acknowledgement_no_update",
        "plans_acknowledgement_no_delete",
    )
]

# ERRCODE 23001 (restrict_violation) makes Django raise IntegrityError, as SQLite's RAISE(ABORT) does.
PG_FORWARD = [
    f"""CREATE OR REPLACE FUNCTION plans_section_guard() RETURNS trigger AS $$
    DECLARE old_status text; new_status text;
    BEGIN
      IF TG_OP IN ('UPDATE', 'DELETE') THEN
        SELECT status INTO old_status FROM plans_planversion WHERE id = OLD.version_id;
      END IF;
      IF TG_OP IN ('UPDATE', 'INSERT') THEN
        SELECT status INTO new_status FROM plans_planversion WHERE id = NEW.version_id;
      END IF;
      IF COALESCE(old_status, 'draft') <> 'draft' OR COALESCE(new_status, 'draft') <> 'draft' THEN
        RAISE EXCEPTION '{SECTION_MSG}' USING ERRCODE = '23001';
      END IF;
      IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
      RETURN NEW;
    END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER plans_section_guard BEFORE INSERT OR UPDATE OR DELETE ON plans_section
    FOR EACH ROW EXECUTE FUNCTION plans_section_guard()""",
    f"""CREATE OR REPLACE FUNCTION plans_version_guard() RETURNS trigger AS $$
    BEGIN
      IF TG_OP = 'DELETE' THEN
        IF OLD.status <> 'draft' THEN
          RAISE EXCEPTION '{VERSION_MSG}' USING ERRCODE = '23001';
        END IF;
        RETURN OLD;
      END IF;
      IF (OLD.status <> NEW.status AND NOT ({_steps_sql()}))
         OR (OLD.status <> 'draft' AND NEW.status <> 'draft' AND (
             NEW.content_hash IS DISTINCT FROM OLD.content_hash OR NEW.number <> OLD.number
             OR NEW.plan_id <> OLD.plan_id OR NEW.change_summary <> OLD.change_summary)) THEN
        RAISE EXCEPTION '{VERSION_MSG}' USING ERRCODE = '23001';
      END IF;
      RETURN NEW;
    END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER plans_version_guard BEFORE UPDATE OR DELETE ON plans_planversion
    FOR EACH ROW EXECUTE FUNCTION plans_version_guard()""",
    f"""CREATE OR REPLACE FUNCTION plans_acknowledgement_guard() RETURNS trigger AS $$
    BEGIN
      IF TG_OP = 'INSERT' THEN
        IF NOT EXISTS (SELECT 1 FROM plans_planversion WHERE id = NEW.version_id
                       AND status = 'published' AND content_hash = NEW.content_hash) THEN
          RAISE EXCEPTION '{ACK_INSERT_MSG}' USING ERRCODE = '23001';
        END IF;
        RETURN NEW;
      END IF;
      RAISE EXCEPTION '{ACK_MSG}' USING ERRCODE = '23001';
    END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER plans_acknowledgement_guard
    BEFORE INSERT OR UPDATE OR DELETE ON plans_acknowledgement
    FOR EACH ROW EXECUTE FUNCTION plans_acknowledgement_guard()""",
    # TRUNCATE of an empty table destroys no evidence (and lets test runners reset the database).
    f"""CREATE OR REPLACE FUNCTION plans_acknowledgement_truncate_guard() RETURNS trigger AS $$
    BEGIN
      IF EXISTS (SELECT 1 FROM plans_acknowledgement) THEN
        RAISE EXCEPTION '{ACK_MSG}' USING ERRCODE = '23001';
      END IF;
      RETURN NULL;
    END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER plans_acknowledgement_truncate_guard BEFORE TRUNCATE ON plans_acknowledgement
    FOR EACH STATEMENT EXECUTE FUNCTION plans_acknowledgement_truncate_guard()""",
]
PG_BACKWARD = [
    "DROP TRIGGER IF EXISTS plans_section_guard ON plans_section",
    "DROP FUNCTION IF EXISTS plans_section_guard()",
    "DROP TRIGGER IF EXISTS plans_version_guard ON plans_planversion",
    "DROP FUNCTION IF EXISTS plans_version_guard()",
    "DROP TRIGGER IF EXISTS plans_acknowledgement_guard ON plans_acknowledgement",
    "DROP FUNCTION IF EXISTS plans_acknowledgement_guard()",
    "DROP TRIGGER IF EXISTS plans_acknowledgement_truncate_guard ON plans_acknowledgement",
    "DROP FUNCTION IF EXISTS plans_acknowledgement_truncate_guard()",
]


class Migration(migrations.Migration):
    dependencies = [("plans", "0001_initial")]

    operations = [
        run_sql_per_vendor(
            {"sqlite": SQLITE_FORWARD, "postgresql": PG_FORWARD},
            {"sqlite": SQLITE_BACKWARD, "postgresql": PG_BACKWARD},
            what="immutability triggers",
        )
    ]

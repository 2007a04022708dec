"""Database guards for what 0002/0004 left open (found by an outside attack run):

- a review (the record of who submitted, approved, sent back or published a version, and
  why) is never changed or deleted, and no insert takes another review's id (REPLACE);
- once a version has left draft, its author and every signature stamp already set
  (submitted, approved, published: who and when) keep their values.

What raw SQL with the application's rights can still do (insert rows that look like the
application's, walk a version through its workflow) is listed in docs/evidence.md with
what detects it.
"""

from django.db import migrations

from core.migration_sql import run_sql_per_vendor

REVIEW_MSG = "plans: a review is evidence and can never be changed or deleted"
STAMP_MSG = "plans: a version that left draft keeps its author and its signature stamps"

STAMPS = (
    "submitted_by_id",
    "submitted_at",
    "approved_by_id",
    "approved_at",
    "published_by_id",
    "published_at",
)


def _stamps_changed(distinct):
    """SQL: a stamp already set was changed, or the author was (`distinct` is the
    vendor's null-safe inequality)."""
    parts = [f"NEW.author_id {distinct} OLD.author_id"]
    parts += [f"(OLD.{s} IS NOT NULL AND NEW.{s} {distinct} OLD.{s})" for s in STAMPS]
    return " OR ".join(parts)


SQLITE_FORWARD = [
    f"""CREATE TRIGGER plans_review_no_update BEFORE UPDATE ON plans_review
    BEGIN SELECT RAISE(ABORT, '{REVIEW_MSG}'); END""",
    f"""CREATE TRIGGER plans_review_no_delete BEFORE DELETE ON plans_review
    BEGIN SELECT RAISE(ABORT, '{REVIEW_MSG}'); END""",
    f"""CREATE TRIGGER plans_review_no_replace BEFORE INSERT ON plans_review
    WHEN EXISTS (SELECT 1 FROM plans_review WHERE id = NEW.id)
    BEGIN SELECT RAISE(ABORT, '{REVIEW_MSG}'); END""",
    f"""CREATE TRIGGER plans_version_stamps_frozen BEFORE UPDATE ON plans_planversion
    WHEN OLD.status <> 'draft' AND ({_stamps_changed("IS NOT")})
    BEGIN SELECT RAISE(ABORT, '{STAMP_MSG}'); END""",
]
SQLITE_BACKWARD = [
    f"DROP TRIGGER IF EXISTS {name}"
    for name in (
        "plans_review_no_update",
        "plans_review_no_delete",
        "plans_review_no_replace",
        "plans_version_stamps_frozen",
    )
]

# ERRCODE 23001 (restrict_violation) makes Django raise IntegrityError, as elsewhere.
# ALWAYS: replica mode (session_replication_role) does not lift them.
PG_FORWARD = [
    f"""CREATE OR REPLACE FUNCTION plans_review_guard() RETURNS trigger AS $$
    BEGIN
      RAISE EXCEPTION '{REVIEW_MSG}' USING ERRCODE = '23001';
    END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER plans_review_guard BEFORE UPDATE OR DELETE ON plans_review
    FOR EACH ROW EXECUTE FUNCTION plans_review_guard()""",
    # An empty table may be truncated (it holds no evidence; test runners reset that way).
    f"""CREATE OR REPLACE FUNCTION plans_review_truncate_guard() RETURNS trigger AS $$
    BEGIN
      IF EXISTS (SELECT 1 FROM plans_review) THEN
        RAISE EXCEPTION '{REVIEW_MSG}' USING ERRCODE = '23001';
      END IF;
      RETURN NULL;
    END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER plans_review_truncate_guard BEFORE TRUNCATE ON plans_review
    FOR EACH STATEMENT EXECUTE FUNCTION plans_review_truncate_guard()""",
    f"""CREATE OR REPLACE FUNCTION plans_version_stamps_guard() RETURNS trigger AS $$
    BEGIN
      IF OLD.status <> 'draft' AND ({_stamps_changed("IS DISTINCT FROM")}) THEN
        RAISE EXCEPTION '{STAMP_MSG}' USING ERRCODE = '23001';
      END IF;
      RETURN NEW;
    END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER plans_version_stamps_guard BEFORE UPDATE ON plans_planversion
    FOR EACH ROW EXECUTE FUNCTION plans_version_stamps_guard()""",
    "ALTER TABLE plans_review ENABLE ALWAYS TRIGGER plans_review_guard",
    "ALTER TABLE plans_review ENABLE ALWAYS TRIGGER plans_review_truncate_guard",
    "ALTER TABLE plans_planversion ENABLE ALWAYS TRIGGER plans_version_stamps_guard",
]
PG_BACKWARD = [
    "DROP TRIGGER IF EXISTS plans_review_guard ON plans_review",
    "DROP TRIGGER IF EXISTS plans_review_truncate_guard ON plans_review",
    "DROP FUNCTION IF EXISTS plans_review_guard()",
    "DROP FUNCTION IF EXISTS plans_review_truncate_guard()",
    "DROP TRIGGER IF EXISTS plans_version_stamps_guard ON plans_planversion",
    "DROP FUNCTION IF EXISTS plans_version_stamps_guard()",
]


class Migration(migrations.Migration):
    dependencies = [("plans", "0006_constraint_messages")]

    operations = [
        run_sql_per_vendor(
            {"sqlite": SQLITE_FORWARD, "postgresql": PG_FORWARD},
            {"sqlite": SQLITE_BACKWARD, "postgresql": PG_BACKWARD},
            what="the review and signature-stamp guards",
        )
    ]

"""Raw SQL in migrations, per database vendor (the project runs on SQLite and PostgreSQL)."""

from django.db import migrations

# SQLSTATE restrict_violation: PostgreSQL guards raise it so that Django raises IntegrityError,
# as it does for SQLite's RAISE(ABORT, ...).
PG_REFUSED = "23001"


def run_sql_per_vendor(forward, backward, *, what):
    """A RunPython operation running `forward[vendor]` (and `backward[vendor]` to undo).

    Each is a list of statements; a vendor with none is an error naming `what` is missing,
    never a silent skip (the SQL guards or keeps something the app relies on).
    """

    def runner(statements_by_vendor):
        def run(apps, schema_editor):
            vendor = schema_editor.connection.vendor
            statements = statements_by_vendor.get(vendor)
            if statements is None:
                raise RuntimeError(
                    f"No {what} for {vendor}; this project supports SQLite and PostgreSQL."
                )
            for statement in statements:
                schema_editor.execute(statement, params=None)

        return run

    return migrations.RunPython(runner(forward), runner(backward))

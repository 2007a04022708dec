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


TRANSITION_TABLES = {
    "insert": "REFERENCING NEW TABLE AS new_rows",
    "update": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "delete": "REFERENCING OLD TABLE AS old_rows",
    "truncate": "",
}


def pg_statement_triggers(table, prefix):
    """PostgreSQL statement triggers `{prefix}_{insert,update,delete,truncate}` AFTER each on
    `table`, with their transition tables (new_rows, old_rows), each calling the function
    of its own name (created beforehand by the migration)."""
    return [
        f"""CREATE TRIGGER {prefix}_{op} AFTER {op.upper()} ON {table}
    {referencing}
    FOR EACH STATEMENT EXECUTE FUNCTION {prefix}_{op}()"""
        for op, referencing in TRANSITION_TABLES.items()
    ]


def pg_drop_statement_triggers(table, prefix):
    """What undoes `pg_statement_triggers` and the functions they call."""
    return [
        *(f"DROP TRIGGER IF EXISTS {prefix}_{op} ON {table}" for op in TRANSITION_TABLES),
        *(f"DROP FUNCTION IF EXISTS {prefix}_{op}()" for op in TRANSITION_TABLES),
    ]

"""Append-only history in the database: every history table refuses UPDATE, DELETE, TRUNCATE.

The history tables of django-simple-history (one per tracked model, and one per tracked
many-to-many) are the audit trail: rows are only ever added. The models write them by
INSERT alone, so the database can refuse everything else, whoever connects:

- PostgreSQL: a row trigger refusing UPDATE and DELETE (so also `INSERT ... ON CONFLICT DO
  UPDATE`), and a statement trigger refusing TRUNCATE of a table that holds rows (an empty
  table holds no evidence; test runners empty the database that way).
- SQLite: row triggers refusing UPDATE and DELETE, and an INSERT whose key already exists:
  `REPLACE INTO` (`INSERT OR REPLACE`) deletes the old row without firing DELETE triggers,
  so without that guard it would rewrite a history row in place. SQLite has no TRUNCATE.

The tables are read from the model registry, never listed by hand, so a model that gains
`HistoricalRecords` is covered. The triggers are (re)created by a `post_migrate` handler
after every `migrate`, idempotently, rather than by a migration per app: a migration would
have to be written by hand for each new tracked model (the autodetector knows nothing of
triggers), and on SQLite any later migration that rebuilds a history table (most
`AlterField`s do) silently drops the triggers with the old table; after `migrate` they are
back. `docs/evidence.md` says what a database owner can still do.
"""

from django.apps import apps as global_apps
from django.db import connections
from django.db.models import Count
from simple_history.utils import get_history_model_for_model

from core.migration_sql import PG_REFUSED

MESSAGE = "history is append-only: rows of {table} cannot be changed, deleted or replaced"
PG_FUNCTION = "history_append_only"
PG_TRUNCATE_FUNCTION = "history_no_truncate"


def history_models(apps=global_apps):
    """Every history model of the registry: one per tracked model, one per tracked m2m."""
    found = []
    for model in apps.get_models():
        if not hasattr(model._meta, "simple_history_manager_attribute"):
            continue
        history_model = get_history_model_for_model(model)
        found.append(history_model)
        for field in history_model._history_m2m_fields:
            found.append(getattr(history_model, field.name).model)
    return sorted(found, key=lambda m: m._meta.db_table)


def history_tables(apps=global_apps):
    return [model._meta.db_table for model in history_models(apps)]


def _sqlite_triggers(connection, model):
    table = model._meta.db_table
    quoted, pk = connection.ops.quote_name(table), connection.ops.quote_name(model._meta.pk.column)
    refuse = f"BEGIN SELECT RAISE(ABORT, '{MESSAGE.format(table=table)}'); END"
    return {
        f"{table}_no_update": f"BEFORE UPDATE ON {quoted} {refuse}",
        f"{table}_no_delete": f"BEFORE DELETE ON {quoted} {refuse}",
        f"{table}_no_replace": f"BEFORE INSERT ON {quoted} "
        f"WHEN EXISTS (SELECT 1 FROM {quoted} WHERE {pk} = NEW.{pk}) {refuse}",
    }


PG_FUNCTIONS = [
    f"""CREATE OR REPLACE FUNCTION {PG_FUNCTION}() RETURNS trigger AS $$
    BEGIN
      RAISE EXCEPTION 'history is append-only: % of a row of % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = '{PG_REFUSED}';
    END $$ LANGUAGE plpgsql""",
    f"""CREATE OR REPLACE FUNCTION {PG_TRUNCATE_FUNCTION}() RETURNS trigger AS $$
    DECLARE has_rows boolean;
    BEGIN
      EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I.%I)', TG_TABLE_SCHEMA, TG_TABLE_NAME)
        INTO has_rows;
      IF has_rows THEN
        RAISE EXCEPTION 'history is append-only: TRUNCATE of % refused', TG_TABLE_NAME
          USING ERRCODE = '{PG_REFUSED}';
      END IF;
      RETURN NULL;
    END $$ LANGUAGE plpgsql""",
]


def _pg_triggers(connection, model):
    quoted = connection.ops.quote_name(model._meta.db_table)
    return {
        PG_FUNCTION: f"BEFORE UPDATE OR DELETE ON {quoted} "
        f"FOR EACH ROW EXECUTE FUNCTION {PG_FUNCTION}()",
        PG_TRUNCATE_FUNCTION: f"BEFORE TRUNCATE ON {quoted} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {PG_TRUNCATE_FUNCTION}()",
    }


def _existing_triggers(cursor, vendor):
    """{(table, trigger name): fires always} for the triggers already in the database."""
    if vendor == "sqlite":
        cursor.execute("SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger'")
        return {row: True for row in cursor.fetchall()}
    cursor.execute(
        "SELECT c.relname, t.tgname, t.tgenabled = 'A' FROM pg_trigger t "
        "JOIN pg_class c ON c.oid = t.tgrelid "
        "WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace"
    )
    return {(table, name): always for table, name, always in cursor.fetchall()}


def _triggers_for(connection):
    if connection.vendor == "sqlite":
        return _sqlite_triggers
    if connection.vendor == "postgresql":
        return _pg_triggers
    raise RuntimeError(
        f"No history guards for {connection.vendor}; this project supports SQLite and PostgreSQL."
    )


def install_history_guards(connection, apps=global_apps):
    """Create the guard triggers missing on any history table; returns how many were made.

    On PostgreSQL they are `ENABLE ALWAYS`: they fire under `session_replication_role =
    replica` too, and one switched off by `ALTER TABLE ... DISABLE TRIGGER` is switched
    back on by the next `migrate`."""
    triggers_for = _triggers_for(connection)
    quote, made = connection.ops.quote_name, 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for statement in PG_FUNCTIONS:
                cursor.execute(statement)
        existing = _existing_triggers(cursor, connection.vendor)
        tables = set(connection.introspection.table_names(cursor))
        for model in history_models(apps):
            table = model._meta.db_table
            if table not in tables:  # migrated only part of the way (`migrate app 0001`)
                continue
            for name, body in triggers_for(connection, model).items():
                if (table, name) not in existing:
                    cursor.execute(f"CREATE TRIGGER {quote(name)} {body}")
                    made += 1
                if not existing.get((table, name)) and connection.vendor == "postgresql":
                    cursor.execute(
                        f"ALTER TABLE {quote(table)} ENABLE ALWAYS TRIGGER {quote(name)}"
                    )
    return made


def remove_history_guards(connection, apps=global_apps):
    """Drop the guards (for test runners emptying the database between tests; see conftest)."""
    remove_guards_of(connection, history_models(apps))


def remove_guards_of(connection, models):
    """Drop the guards of these history models' tables (also models of a migration's state:
    the chain's backfill, core.chain.backfill)."""
    triggers_for = _triggers_for(connection)
    with connection.cursor() as cursor:
        for model in models:
            quoted = connection.ops.quote_name(model._meta.db_table)
            for name in triggers_for(connection, model):
                on = f" ON {quoted}" if connection.vendor == "postgresql" else ""
                cursor.execute(f"DROP TRIGGER IF EXISTS {connection.ops.quote_name(name)}{on}")


def install_history_guards_after_migrate(sender, app_config=None, using="default", **kwargs):
    # post_migrate fires once per installed app; the tables all exist after the last one.
    if app_config is None or app_config is not list(global_apps.get_app_configs())[-1]:
        return
    install_history_guards(connections[using])


def history_entries_by(user_ids, apps=global_apps):
    """{user id: number of history rows recording that person as the one who made the change}.

    Those people cannot be deleted (`history_user` is PROTECT, core.history): the admin says
    so with this count rather than listing every row Django's collector would find."""
    counts = {}
    for model in history_models(apps):
        if "history_user" not in {f.name for f in model._meta.concrete_fields}:
            continue  # many-to-many history rows hang off a history row that names the actor
        rows = (
            model._base_manager.filter(history_user_id__in=list(user_ids))
            .values_list("history_user_id")
            .annotate(n=Count("pk"))
            .order_by()
        )
        for user_id, n in rows:
            counts[user_id] = counts.get(user_id, 0) + n
    return counts

"""History is append-only in the database: no UPDATE, DELETE, REPLACE or TRUNCATE of any history
row, on every history table the model registry has; and the people it names are kept."""

import datetime
import decimal
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.core.management.sql import emit_post_migrate_signal
from django.db import DatabaseError, connection, models, transaction
from django.db.models.deletion import ProtectedError
from django.urls import reverse
from django.utils import timezone

from core.evidence import history_models, history_tables, remove_history_guards
from incidents import services as incident_services
from tests import factories
from tests.incidents import factories as f

pytestmark = pytest.mark.django_db
User = get_user_model()


def raw(sql, params=()):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def refused():
    return pytest.raises(DatabaseError)


def _value(field, n):
    if isinstance(field, models.ForeignKey):
        return None if field.null else n
    if isinstance(field, models.BooleanField):
        return False
    if isinstance(field, models.DateTimeField):
        return timezone.now()
    if isinstance(field, models.DateField):
        return datetime.date.today()
    if isinstance(field, models.DecimalField):
        return decimal.Decimal(1)
    if isinstance(field, models.IntegerField | models.FloatField | models.DurationField):
        return datetime.timedelta(1) if isinstance(field, models.DurationField) else 1
    if isinstance(field, models.GenericIPAddressField):
        return "127.0.0.1"
    if isinstance(field, models.UUIDField):
        return uuid.uuid4()
    if isinstance(field, models.JSONField):
        return {}
    return "x"[: field.max_length or 1]


def a_row_in(model, n):
    """One history row in `model`, written as simple-history writes them: an INSERT."""
    values = {}
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        if field.name == "history_type":
            values["history_type"] = "+"
        elif field.null:
            values[field.attname] = None
        elif field.has_default():
            continue
        else:
            values[field.attname] = _value(field, n)
    return model._base_manager.create(**values)


def test_every_history_table_refuses_update_and_delete():
    tables = history_tables()  # from the model registry
    assert "incidents_historicalincident" in tables
    assert "plans_historicalplanversion_editors" in tables  # m2m history
    assert "core_historicaluser_groups" in tables  # a model registered with register()
    assert len(tables) == len(set(tables)) >= 30
    pk_columns = {}
    for n, model in enumerate(history_models(), start=1):
        row = a_row_in(model, n)
        pk_columns[model] = (model._meta.pk.column, row.pk)
    for model, (pk, value) in pk_columns.items():
        table = connection.ops.quote_name(model._meta.db_table)
        with refused():
            raw(f"UPDATE {table} SET {pk} = {pk} WHERE {pk} = %s", [value])
        with refused():
            raw(f"DELETE FROM {table} WHERE {pk} = %s", [value])
        with refused(), transaction.atomic():
            model._base_manager.filter(pk=value).delete()
        assert model._base_manager.filter(pk=value).exists(), model._meta.db_table


def test_orm_update_of_history_is_refused(coordinator):
    incident = f.incident(title="Before")
    incident_services.incident_update(incident=incident, actor=coordinator, title="After")
    with refused(), transaction.atomic():
        incident.history.update(title="Rewritten", history_user=None)
    with refused(), transaction.atomic():
        incident.history.all().delete()
    assert list(incident.history.values_list("title", flat=True)) == ["After", "Before"]
    assert incident.history.first().history_user == coordinator


def test_replace_into_cannot_rewrite_a_history_row_on_sqlite(sqlite_only, coordinator):
    incident = f.incident(title="Kept")
    record = incident.history.get()
    with refused():
        raw(
            "REPLACE INTO incidents_historicalincident "
            "SELECT * FROM incidents_historicalincident WHERE history_id = %s",
            [record.pk],
        )
    with refused():
        raw(
            "UPDATE OR REPLACE incidents_historicalincident SET history_id = %s "
            "WHERE history_id = %s",
            [record.pk, record.pk],
        )
    assert incident.history.get().title == "Kept"


def test_an_upsert_cannot_rewrite_a_history_row(coordinator):
    incident = f.incident(title="Kept")
    record = incident.history.get()
    with refused():
        raw(
            "INSERT INTO incidents_historicalincident SELECT * FROM incidents_historicalincident "
            "WHERE history_id = %s ON CONFLICT (history_id) DO UPDATE SET title = 'Rewritten'",
            [record.pk],
        )
    assert incident.history.get().title == "Kept"


@pytest.mark.parametrize("table", ["incidents_historicalincident", "core_historicaluser_groups"])
def test_truncate_of_history_is_refused_on_postgresql(postgres_only, table, coordinator):
    incident = f.incident()
    with pytest.raises(DatabaseError, match="history is append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            # The test's rows leave deferred foreign key checks pending, which alone would
            # make PostgreSQL refuse a TRUNCATE; an attacker's connection has none.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"TRUNCATE {table} CASCADE")
    assert incident.history.exists()
    assert User.history.exists()


def test_migrate_puts_back_the_guards_of_every_history_table(coordinator):
    # A table rebuilt by a migration (SQLite) or a new tracked model has none until migrate ends.
    remove_history_guards(connection)
    incident = f.incident(title="Before")
    raw("UPDATE incidents_historicalincident SET title = 'Unguarded'")
    if connection.vendor == "postgresql":
        # migrate commits each migration; the test's rows leave deferred foreign key checks
        # pending, during which PostgreSQL refuses the ALTER TABLE ... ENABLE ALWAYS.
        raw("SET CONSTRAINTS ALL IMMEDIATE")
    emit_post_migrate_signal(verbosity=0, interactive=False, db=connection.alias)
    with refused():
        raw("UPDATE incidents_historicalincident SET title = 'Again'")
    assert incident.history.get().title == "Unguarded"


def test_a_person_named_in_the_history_cannot_be_deleted(coordinator):
    incident = f.incident()
    incident_services.incident_update(incident=incident, actor=coordinator, title="By coord")
    with pytest.raises(ProtectedError):
        coordinator.delete()
    assert incident.history.first().history_user_id == coordinator.pk


def test_admin_explains_why_a_person_in_the_history_is_kept(client, superuser, coordinator):
    incident = f.incident()
    incident_services.incident_update(incident=incident, actor=coordinator, title="By coord")
    client.force_login(superuser)
    url = reverse("admin:auth_user_delete", args=[coordinator.pk])

    page = client.get(url)
    assert page.status_code == 200
    assert "deactivate the account instead" in page.content.decode()

    answer = client.post(url, {"post": "yes"})
    assert answer.status_code == 200
    assert "deactivate the account instead" in answer.content.decode()

    bulk = client.post(
        reverse("admin:auth_user_changelist"),
        {"action": "delete_selected", "_selected_action": [coordinator.pk], "post": "yes"},
    )
    assert bulk.status_code == 200
    assert "deactivate the account instead" in bulk.content.decode()
    assert User.objects.filter(pk=coordinator.pk).exists()

    # Someone the history does not name as actor (an account made by mistake) can go.
    mistake = factories.UserFactory(username="typo")
    answer = client.post(reverse("admin:auth_user_delete", args=[mistake.pk]), {"post": "yes"})
    assert answer.status_code == 302
    assert not User.objects.filter(pk=mistake.pk).exists()
    # Deleting adds a history row; it rewrites none.
    assert list(User.history.filter(id=mistake.pk).values_list("history_type", "username")) == [
        ("-", "typo"),
        ("+", "typo"),
    ]


def test_replica_mode_does_not_lift_the_guards_on_postgresql(postgres_only, coordinator):
    # `session_replication_role = replica` skips ordinary triggers; ours fire ALWAYS.
    incident = f.incident(title="Kept")
    with refused(), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("UPDATE incidents_historicalincident SET title = 'Rewritten'")
    assert incident.history.get().title == "Kept"

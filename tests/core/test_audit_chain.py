"""Every history row is sealed into its table's hash chain at INSERT; `verify_audit_chain` names
the first row altered, removed or inserted out of order; parallel writers never fork a chain."""

import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, connections, transaction

from core.chain import GENESIS, canonical_content, chain_hash, chained_history_models
from core.evidence import history_models, remove_history_guards
from incidents import services as incident_services
from incidents.models import Incident
from tests.core.test_evidence import a_row_in
from tests.incidents import factories as f

pytestmark = pytest.mark.django_db


def raw(sql, params=()):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def verify():
    """(exit ok, what the command wrote)."""
    from io import StringIO

    out, err = StringIO(), StringIO()
    try:
        call_command("verify_audit_chain", stdout=out, stderr=err)
    except CommandError as exc:
        return False, err.getvalue() + str(exc)
    return True, out.getvalue()


def edited_incident(actor, edits=3):
    incident = f.incident(title="Edit 0")
    for n in range(1, edits + 1):
        incident_services.incident_update(
            incident=Incident.objects.get(pk=incident.pk), actor=actor, title=f"Edit {n}"
        )
    return incident


def test_every_history_row_links_to_the_row_before_it_in_its_table():
    chained = chained_history_models()
    # Every history table but the many-to-many ones (written by bulk_create) is chained.
    assert (
        len(chained)
        == len([m for m in history_models() if "history_user" in {f.name for f in m._meta.fields}])
        >= 25
    )
    for n, model in enumerate(chained, start=1):
        first, second = a_row_in(model, n), a_row_in(model, n + 1000)
        first.refresh_from_db()
        second.refresh_from_db()
        assert first.chain_previous == GENESIS
        assert first.chain_hash == chain_hash(GENESIS, canonical_content(first))
        assert second.chain_previous == first.chain_hash
        assert second.chain_hash == chain_hash(first.chain_hash, canonical_content(second))
    assert verify() == (
        True,
        f"OK: {len(chained)} history chains intact, {2 * len(chained)} rows checked.\n",
    )


def test_content_is_canonical_json_with_utc_times_and_numeric_ids(coordinator):
    incident = edited_incident(coordinator, edits=1)
    row = incident.history.order_by("history_id").last()
    content = canonical_content(row)
    assert content.startswith('{"fields":{')
    assert f'"history_user_id":{coordinator.pk}' in content
    assert '"title":"Edit 1"' in content
    assert row.history_date.strftime('"history_date":"%Y-%m-%dT%H:%M:%S.%fZ"') in content
    assert ", " not in content and ": " not in content


def test_verify_names_a_row_altered_by_raw_sql_with_the_guards_dropped(coordinator):
    incident = edited_incident(coordinator)
    target = incident.history.order_by("history_id")[1]
    remove_history_guards(connection)
    raw(
        "UPDATE incidents_historicalincident SET title = 'Rewritten' WHERE history_id = %s",
        [target.history_id],
    )
    ok, said = verify()
    assert not ok
    assert f"incidents.historicalincident history_id={target.history_id}: altered" in said


def test_verify_names_the_row_after_one_removed(coordinator):
    incident = edited_incident(coordinator)
    rows = list(incident.history.order_by("history_id"))
    remove_history_guards(connection)
    raw("DELETE FROM incidents_historicalincident WHERE history_id = %s", [rows[1].history_id])
    ok, said = verify()
    assert not ok
    assert f"incidents.historicalincident history_id={rows[2].history_id}" in said
    assert f"(history_id={rows[0].history_id}): a row was removed before it" in said


def test_verify_names_a_rehashed_row_by_the_row_that_follows(coordinator):
    # Someone who rewrites a row and recomputes its own hash still breaks the next link.
    incident = edited_incident(coordinator)
    rows = list(incident.history.order_by("history_id"))
    remove_history_guards(connection)
    raw(
        "UPDATE incidents_historicalincident SET title = 'Forged' WHERE history_id = %s",
        [rows[1].history_id],
    )
    forged = type(rows[1])._base_manager.get(pk=rows[1].pk)
    raw(
        "UPDATE incidents_historicalincident SET chain_hash = %s WHERE history_id = %s",
        [chain_hash(forged.chain_previous, canonical_content(forged)), rows[1].history_id],
    )
    ok, said = verify()
    assert not ok
    assert f"history_id={rows[2].history_id}: its chain_previous does not match" in said


def test_the_chain_still_refuses_updates_and_deletes(coordinator):
    incident = edited_incident(coordinator, edits=1)
    with pytest.raises(DatabaseError), transaction.atomic():
        incident.history.update(chain_hash="0" * 64)
    assert verify()[0]


@pytest.mark.django_db(transaction=True)
def test_parallel_writers_do_not_fork_the_chain_on_postgresql(postgres_only):
    from tests import factories

    actor = factories.coordinator(username="racer")
    incidents = [f.incident(title=f"Race {n}") for n in range(4)]
    barrier = threading.Barrier(len(incidents))
    errors = []

    def worker(incident_id):
        try:
            barrier.wait()
            for n in range(5):
                incident_services.incident_update(
                    incident=Incident.objects.get(pk=incident_id),
                    actor=actor,
                    title=f"Raced {incident_id}.{n}",
                )
        except Exception as exc:  # noqa: BLE001  (collected and asserted below)
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i.pk,)) for i in incidents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    history = Incident.history.model
    rows = list(history._base_manager.order_by("history_id"))
    assert len(rows) == 4 + 4 * 5
    links = [row.chain_previous for row in rows]
    assert len(set(links)) == len(links)  # no two rows chained onto the same row
    assert verify()[0]

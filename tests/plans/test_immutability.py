"""Frozen sections, versions and acknowledgements resist every write path: model, ORM, raw SQL."""

from importlib import import_module
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from core.errors import ImmutableRecord
from core.workflow import all_pairs, all_steps
from plans import services
from plans.models import Acknowledgement, PlanVersion, Section
from tests.plans.factories import draft_of, fill, make_plan, publish, published_plan
from tests.signing import signer_proof

pytestmark = pytest.mark.django_db


@pytest.fixture
def submitted(coordinator):
    plan = make_plan(author=coordinator)
    version = fill(draft_of(plan), coordinator)
    services.version_submit(version=version, actor=coordinator, proof=signer_proof(coordinator))
    return version


@pytest.fixture
def acknowledgement(approver):
    plan, version, author, _ = published_plan(code="ACK", approver=approver)
    ack, _ = services.acknowledgement_create(
        version=version,
        actor=author,
        proof=signer_proof(author),
        full_name=author.get_full_name(),
        content_hash=version.content_hash,
    )
    return ack


def refused():
    """The database refuses the statement (the trigger raises); the test transaction survives."""
    return pytest.raises(DatabaseError)


def raw(sql, params=()):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_model_refuses_to_save_or_delete_a_frozen_section(submitted):
    section = submitted.sections.first()
    section.body = "changed"
    with pytest.raises(ImmutableRecord):
        section.save()
    with pytest.raises(ImmutableRecord):
        section.delete()
    with pytest.raises(ImmutableRecord):
        Section(version=submitted, order=50, key="extra", heading="Extra").save()


def test_orm_update_of_frozen_sections_is_refused_by_the_database(submitted):
    with refused(), transaction.atomic():
        Section.objects.filter(version=submitted).update(body="rewritten")
    assert not Section.objects.filter(version=submitted, body="rewritten").exists()


def test_orm_delete_of_frozen_sections_is_refused_by_the_database(submitted):
    with refused(), transaction.atomic():
        Section.objects.filter(version=submitted)._raw_delete(connection.alias)
    with refused(), transaction.atomic():
        Section.objects.filter(pk=submitted.sections.first().pk).delete()
    assert submitted.sections.count() == 11


def test_raw_sql_on_frozen_sections_is_refused(submitted):
    with refused():
        raw("UPDATE plans_section SET body = 'x' WHERE version_id = %s", [submitted.pk])
    with refused():
        raw("DELETE FROM plans_section WHERE version_id = %s", [submitted.pk])
    with refused():
        raw(
            'INSERT INTO plans_section (version_id, "order", key, heading, body, guidance) '
            "VALUES (%s, 99, 'x', 'x', 'x', '')",
            [submitted.pk],
        )
    with refused():
        raw(
            "UPDATE plans_section SET version_id = %s WHERE id = %s",
            [submitted.pk, submitted.sections.first().pk],
        )
    assert submitted.sections.filter(body="x").count() == 0


def test_draft_sections_stay_editable_by_every_path(coordinator):
    version = draft_of(make_plan(author=coordinator))
    Section.objects.filter(version=version, key="acknowledgement").update(body="draft edit")
    raw("UPDATE plans_section SET heading = 'H' WHERE version_id = %s", [version.pk])
    assert version.sections.get(key="acknowledgement").body == "draft edit"


def test_frozen_version_keeps_its_fingerprint_and_follows_the_workflow(submitted):
    with refused():
        raw(
            "UPDATE plans_planversion SET content_hash = %s WHERE id = %s", ["f" * 64, submitted.pk]
        )
    with refused():
        raw("UPDATE plans_planversion SET change_summary = 'x' WHERE id = %s", [submitted.pk])
    with refused():
        raw("UPDATE plans_planversion SET status = 'published' WHERE id = %s", [submitted.pk])
    with refused():
        raw("DELETE FROM plans_planversion WHERE id = %s", [submitted.pk])
    with refused(), transaction.atomic():
        PlanVersion.objects.filter(pk=submitted.pk).update(number=7)


def version_in(status, author, approver):
    """A version of a fresh plan brought to `status` through the services."""
    version = fill(draft_of(make_plan(author=author, code=f"T-{status}".replace("_", "-"))), author)
    steps = [
        (
            PlanVersion.Status.IN_REVIEW,
            lambda: services.version_submit(
                version=version, actor=author, proof=signer_proof(author)
            ),
        ),
        (
            PlanVersion.Status.APPROVED,
            lambda: services.version_approve(
                version=version, actor=approver, proof=signer_proof(approver)
            ),
        ),
        (
            PlanVersion.Status.PUBLISHED,
            lambda: services.version_publish(
                version=version, actor=approver, proof=signer_proof(approver)
            ),
        ),
    ]
    for reached, step in steps:
        if version.status == status:
            break
        step()
        version.refresh_from_db()
        assert version.status == reached
    if status == PlanVersion.Status.SUPERSEDED:
        newer = services.version_create_draft(plan=version.plan, actor=author)
        publish(fill(newer, author, text="Newer"), author=author, approver=approver)
        version.refresh_from_db()
        # The newer one takes the allowed step on too, so that the plan has no published
        # version and only the workflow stands between this one and being published again.
        raw_status_change(newer, PlanVersion.Status.SUPERSEDED)
    assert version.status == status
    return version


def raw_status_change(version, target):
    """UPDATE the status by raw SQL, with what the table's other guards ask of a row in
    `target` (a fingerprint outside draft only, a publication time once published), so that
    only the workflow guard has a reason to refuse."""
    assignments, params = ["status = %s"], [target]
    if target == PlanVersion.Status.DRAFT:
        assignments.append("content_hash = NULL")
    elif version.content_hash is None:
        assignments.append("content_hash = %s")
        params.append("a" * 64)
    if target in (PlanVersion.Status.PUBLISHED, PlanVersion.Status.SUPERSEDED):
        if version.published_at is None:
            assignments.append("published_at = %s")
            params.append(timezone.now())
    raw(
        f"UPDATE plans_planversion SET {', '.join(assignments)} WHERE id = %s",
        [*params, version.pk],
    )


@pytest.mark.parametrize(("source", "target"), all_pairs(PlanVersion))
def test_the_database_guard_of_version_statuses_agrees_with_the_pipeline(
    source, target, coordinator, approver
):
    """On SQLite and PostgreSQL alike: every step PlanVersion.pipeline allows passes the
    trigger, every other change of status is refused by it."""
    version = version_in(source, coordinator, approver)
    if (source, target) in all_steps(PlanVersion):
        raw_status_change(version, target)
        version.refresh_from_db()
        assert version.status == target
    else:
        with pytest.raises(DatabaseError, match="follows the workflow"):
            raw_status_change(version, target)
        version.refresh_from_db()
        assert version.status == source


def test_model_refuses_to_change_or_delete_an_acknowledgement(acknowledgement):
    acknowledgement.full_name = "Someone Else"
    with pytest.raises(ImmutableRecord):
        acknowledgement.save()
    with pytest.raises(ImmutableRecord):
        acknowledgement.delete()


def test_orm_update_and_delete_of_acknowledgements_are_refused(acknowledgement):
    with refused(), transaction.atomic():
        Acknowledgement.objects.filter(pk=acknowledgement.pk).update(full_name="X")
    with refused(), transaction.atomic():
        Acknowledgement.objects.filter(pk=acknowledgement.pk).delete()
    acknowledgement.refresh_from_db()
    assert acknowledgement.full_name != "X"


def test_raw_sql_update_and_delete_of_acknowledgements_are_refused(acknowledgement):
    with refused():
        raw(
            "UPDATE plans_acknowledgement SET content_hash = 'x' WHERE id = %s",
            [acknowledgement.pk],
        )
    with refused():
        raw("DELETE FROM plans_acknowledgement WHERE id = %s", [acknowledgement.pk])
    assert Acknowledgement.objects.filter(pk=acknowledgement.pk).exists()


def truncate(statement):
    """TRUNCATE as an attacker's own connection would: the test's rows leave deferred foreign
    key checks pending, which alone would make PostgreSQL refuse any TRUNCATE."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(statement)


def test_truncate_of_acknowledgements_is_refused_on_postgresql(postgres_only, acknowledgement):
    with pytest.raises(DatabaseError, match="acknowledgement can never"):
        truncate("TRUNCATE plans_acknowledgement CASCADE")
    assert Acknowledgement.objects.filter(pk=acknowledgement.pk).exists()


def test_history_is_still_written_while_its_rows_are_refused_changes(acknowledgement, submitted):
    # simple-history adds historical rows (INSERT); the guards refuse only rewriting them.
    assert acknowledgement.history.count() == 1
    assert submitted.sections.first().history.exists()
    with refused():
        raw("UPDATE plans_historicalsection SET history_change_reason = 'rewritten'")
    assert not submitted.sections.first().history.filter(history_change_reason="rewritten")


def test_database_refuses_an_acknowledgement_with_a_foreign_fingerprint(approver, coordinator):
    plan, version, author, _ = published_plan(code="FORGE", approver=approver)
    draft = services.version_create_draft(plan=plan, actor=author)
    with refused(), transaction.atomic():
        Acknowledgement.objects.create(
            user=coordinator,
            version=version,
            full_name="x",
            statement="x",
            content_hash="0" * 64,
        )
    with refused(), transaction.atomic():
        Acknowledgement.objects.create(
            user=coordinator, version=draft, full_name="x", statement="x", content_hash="0" * 64
        )
    assert not Acknowledgement.objects.filter(user=coordinator).exists()


ACK_COLUMNS = (
    "id, user_id, version_id, acknowledged_at, full_name, statement, content_hash, "
    "ip_address, user_agent"
)


def test_replace_into_cannot_forge_an_acknowledgement_on_sqlite(sqlite_only, acknowledgement):
    """REPLACE deletes the row it collides with without firing DELETE triggers."""
    forged = ACK_COLUMNS.replace("full_name", "'Forged Signer'").replace("ip_address", "'6.6.6.6'")
    with refused():  # same id
        raw(
            f"REPLACE INTO plans_acknowledgement ({ACK_COLUMNS}) "
            f"SELECT {forged} FROM plans_acknowledgement WHERE id = %s",
            [acknowledgement.pk],
        )
    with refused():  # a new id, the same (user, version)
        raw(
            f"INSERT OR REPLACE INTO plans_acknowledgement ({ACK_COLUMNS}) "
            f"SELECT {forged.replace('id, ', 'id + 1000, ', 1)} FROM plans_acknowledgement "
            "WHERE id = %s",
            [acknowledgement.pk],
        )
    stored = Acknowledgement.objects.get()
    assert (stored.pk, stored.full_name) == (acknowledgement.pk, acknowledgement.full_name)
    assert stored.ip_address == acknowledgement.ip_address


def test_an_upsert_cannot_rewrite_an_acknowledgement(acknowledgement):
    # ON CONFLICT DO UPDATE fires the UPDATE triggers on both databases (held before; kept).
    with refused():
        raw(
            f"INSERT INTO plans_acknowledgement ({ACK_COLUMNS}) "
            f"SELECT {ACK_COLUMNS} FROM plans_acknowledgement WHERE id = %s "
            "ON CONFLICT (id) DO UPDATE SET full_name = 'Forged Signer'",
            [acknowledgement.pk],
        )
    assert Acknowledgement.objects.get().full_name == acknowledgement.full_name


VERSION_COLUMNS = (
    "id, plan_id, number, status, author_id, change_summary, content_hash, created_at, "
    "submitted_by_id, submitted_at, approved_by_id, approved_at, published_by_id, published_at, "
    "effective_date, next_review_due, superseded_at"
)


def test_replace_into_cannot_swap_a_published_version_for_a_draft_on_sqlite(sqlite_only, approver):
    """The attack: REPLACE the published version by a draft of the same id, rewrite its
    sections, walk it back to published with a fresh fingerprint."""
    plan, version, author, _ = published_plan(code="SWAP", approver=approver)
    as_draft = (
        VERSION_COLUMNS.replace("status", "'draft'")
        .replace("content_hash", "NULL")
        .replace(" published_at", " NULL")
    )
    with refused():
        raw(
            f"REPLACE INTO plans_planversion ({VERSION_COLUMNS}) "
            f"SELECT {as_draft} FROM plans_planversion WHERE id = %s",
            [version.pk],
        )
    with refused():  # a new id on the same (plan, number)
        raw(
            f"REPLACE INTO plans_planversion ({VERSION_COLUMNS}) "
            f"SELECT {as_draft.replace('id, ', 'id + 1000, ', 1)} FROM plans_planversion "
            "WHERE id = %s",
            [version.pk],
        )
    draft = services.version_create_draft(plan=plan, actor=author)
    with refused():  # a draft takes the published version's number
        raw(
            "UPDATE OR REPLACE plans_planversion SET number = %s WHERE id = %s",
            [version.number, draft.pk],
        )
    version.refresh_from_db()
    assert version.status == PlanVersion.Status.PUBLISHED
    assert version.sections.count() == 11
    call_command("verify_plan_fingerprints", stdout=StringIO())


def test_replace_into_cannot_take_a_published_sections_id_on_sqlite(sqlite_only, approver):
    plan, version, author, _ = published_plan(code="SECT", approver=approver)
    draft = services.version_create_draft(plan=plan, actor=author)
    published_section = version.sections.get(key="acknowledgement")
    draft_section = draft.sections.get(key="acknowledgement")
    with refused():
        raw(
            'REPLACE INTO plans_section (id, version_id, "order", key, heading, body, guidance) '
            "VALUES (%s, %s, 1, 'acknowledgement', 'H', 'rewritten', '')",
            [published_section.pk, draft.pk],
        )
    with refused():
        raw(
            "UPDATE OR REPLACE plans_section SET id = %s WHERE id = %s",
            [published_section.pk, draft_section.pk],
        )
    published_section.refresh_from_db()
    assert published_section.version_id == version.pk
    assert version.sections.filter(body="rewritten").count() == 0
    call_command("verify_plan_fingerprints", stdout=StringIO())


@pytest.mark.parametrize(
    "statement",
    ["TRUNCATE plans_section", "TRUNCATE plans_planversion CASCADE", "TRUNCATE plans_plan CASCADE"],
)
def test_truncate_of_published_text_is_refused_on_postgresql(postgres_only, approver, statement):
    plan, version, _, _ = published_plan(code="TRUNC", approver=approver)
    with pytest.raises(DatabaseError, match="plans: "):
        truncate(statement)
    assert version.sections.count() == 11
    assert PlanVersion.objects.filter(pk=version.pk, status="published").exists()


def test_replica_mode_does_not_lift_the_plan_guards_on_postgresql(postgres_only, acknowledgement):
    version = acknowledgement.version
    for statement in (
        "UPDATE plans_section SET body = 'rewritten'",
        "UPDATE plans_planversion SET content_hash = repeat('0', 64)",
        "DELETE FROM plans_acknowledgement",
    ):
        with refused(), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = replica")
            cursor.execute(statement)
    assert not version.sections.filter(body="rewritten").exists()
    assert Acknowledgement.objects.filter(pk=acknowledgement.pk).exists()


def test_the_replace_guards_cover_every_unique_index_on_sqlite(sqlite_only):
    # A unique constraint added later would be a new key REPLACE could collide on.
    guarded = import_module("plans.migrations.0004_replace_and_truncate_guards").KEYS
    for table, keys in guarded.items():
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA index_list({table})")
            unique = [name for _, name, is_unique, *_ in cursor.fetchall() if is_unique]
            indexed = set()
            for name in unique:
                cursor.execute(f"PRAGMA index_info({name})")
                indexed.add(tuple(column for *_, column in cursor.fetchall()))
        assert indexed and indexed <= {columns for columns, _ in keys}, table

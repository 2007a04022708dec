"""Frozen sections, versions and acknowledgements resist every write path: model, ORM, raw SQL."""

import pytest
from django.db import DatabaseError, connection, transaction

from core.errors import ImmutableRecord
from plans import services
from plans.models import Acknowledgement, PlanVersion, Section
from tests.plans.factories import draft_of, fill, make_plan, published_plan

pytestmark = pytest.mark.django_db


@pytest.fixture
def submitted(coordinator):
    plan = make_plan(author=coordinator)
    version = fill(draft_of(plan), coordinator)
    services.version_submit(version=version, actor=coordinator)
    return version


@pytest.fixture
def acknowledgement(approver):
    plan, version, author, _ = published_plan(code="ACK", approver=approver)
    ack, _ = services.acknowledgement_create(
        version=version,
        actor=author,
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


def test_truncate_of_acknowledgements_is_refused_on_postgresql(postgres_only, acknowledgement):
    with refused():
        raw("TRUNCATE plans_acknowledgement CASCADE")
    assert Acknowledgement.objects.filter(pk=acknowledgement.pk).exists()


def test_history_tables_are_not_locked(acknowledgement, submitted):
    # simple-history writes the historical rows; the guards must not stop it.
    assert acknowledgement.history.count() == 1
    assert submitted.sections.first().history.exists()
    raw("UPDATE plans_historicalsection SET history_change_reason = history_change_reason")


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

"""Reviews and a version's signature stamps cannot be rewritten below the application."""

import pytest
from django.db import DatabaseError, connection, transaction

from plans.models import PlanVersion, Review
from tests.plans.factories import draft_of, fill, make_plan, publish, published_plan

pytestmark = pytest.mark.django_db


def raw(sql, params=()):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.fixture
def published(approver):
    _, version, _, _ = published_plan(approver=approver, code="RG")
    return version


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE plans_review SET decision = 'approved', comment = 'forged'",
        "DELETE FROM plans_review",
    ],
)
def test_a_review_is_never_changed_or_deleted(published, sql):
    before = list(Review.objects.order_by("pk").values_list("pk", "decision", "comment"))
    assert before
    with pytest.raises(DatabaseError, match="review is evidence"):
        raw(sql)
    assert list(Review.objects.order_by("pk").values_list("pk", "decision", "comment")) == before


def test_replace_into_cannot_rewrite_a_review_on_sqlite(sqlite_only, published):
    review = Review.objects.filter(version=published).first()
    with pytest.raises(DatabaseError, match="review is evidence"):
        raw(
            "REPLACE INTO plans_review (id, version_id, reviewer_id, decision, comment, created_at) "
            "SELECT id, version_id, reviewer_id, decision, 'forged', created_at "
            "FROM plans_review WHERE id = %s",
            [review.pk],
        )


@pytest.mark.parametrize(
    "sql, refusal",
    [
        ("TRUNCATE plans_review", "referenced in a foreign key"),
        ("TRUNCATE plans_review CASCADE", "review is evidence"),
    ],
)
def test_truncate_of_reviews_is_refused_on_postgresql(postgres_only, published, sql, refusal):
    """Plain TRUNCATE already meets the signatures' foreign key; CASCADE is the real door."""
    before = Review.objects.count()
    assert before
    with pytest.raises(DatabaseError, match=refusal):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(sql)
    assert Review.objects.count() == before


@pytest.mark.parametrize(
    "column, value",
    [("author_id", None), ("published_at", "2020-01-01 00:00:00"), ("approved_by_id", None)],
)
def test_a_published_versions_author_and_stamps_keep_their_values(published, column, value):
    if column != "published_at":
        from django.contrib.auth import get_user_model

        value = get_user_model().objects.exclude(
            pk=getattr(published, column)
        ).values_list("pk", flat=True).first()
    with pytest.raises(DatabaseError, match="signature stamps"):
        raw(f"UPDATE plans_planversion SET {column} = %s WHERE id = %s", [value, published.pk])


def test_the_workflow_still_sets_each_stamp_once(coordinator, approver):
    plan = make_plan(author=coordinator, code="WF")
    version = fill(draft_of(plan), coordinator)
    publish(version, author=coordinator, approver=approver)
    version.refresh_from_db()
    assert version.status == PlanVersion.Status.PUBLISHED
    assert version.submitted_by == coordinator and version.approved_by == approver

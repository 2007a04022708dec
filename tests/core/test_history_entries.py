"""History entries as the API shows them: who, why, and exactly the fields that changed."""

import pytest
from django.contrib.auth.models import Group

from core.api import history_entries
from core.history import acting_as, stamp
from tests import factories

pytestmark = pytest.mark.django_db


def _entries(user):
    records = list(user.history.order_by("-history_date", "-history_id"))
    return history_entries(records, None, hidden_fields={"email"})


def test_entries_show_who_why_and_only_what_changed(superuser):
    user = factories.UserFactory(username="h1", first_name="Ann", last_name="Old")
    stamp(user, actor=superuser, reason="Name corrected after marriage")
    user.last_name = "New"
    user.save()

    newest, created = _entries(user)
    assert newest["history_type"] == "changed"
    assert newest["history_user"] == superuser.pk
    assert newest["history_user_name"] == "root"
    assert newest["history_change_reason"] == "Name corrected after marriage"
    assert newest["changes"] == {"last_name": {"old": "Old", "new": "New"}}
    assert created["history_type"] == "created"
    assert created["changes"]["first_name"] == {"old": None, "new": "Ann"}


def test_hidden_fields_never_appear(superuser):
    user = factories.UserFactory(username="h2", email="secret@example.org")
    user.email = "other@example.org"
    user.save()
    for entry in _entries(user):
        assert "email" not in entry["changes"]


def test_many_to_many_changes_are_listed_with_the_actor(superuser):
    user = factories.UserFactory(username="h3")
    group = Group.objects.get(name="Compliance")
    with acting_as(superuser):
        user.groups.add(group)
    newest = _entries(user)[0]
    assert newest["changes"] == {"groups": {"old": [], "new": [group.pk]}}
    assert newest["history_user"] == superuser.pk


def test_membership_changed_from_the_group_side_is_in_each_users_history(superuser):
    """`group.user_set.add(...)` (the admin's group page, scripts) is audited like `user.groups.add`."""
    ann, bob = factories.UserFactory(username="ann"), factories.UserFactory(username="bob")
    group = Group.objects.get(name="Compliance")
    with acting_as(superuser):
        group.user_set.add(ann, bob)
    for user in (ann, bob):
        newest = _entries(user)[0]
        assert newest["changes"] == {"groups": {"old": [], "new": [group.pk]}}
        assert newest["history_user"] == superuser.pk
    with acting_as(superuser):
        group.user_set.remove(ann)
    assert _entries(ann)[0]["changes"] == {"groups": {"old": [group.pk], "new": []}}
    with acting_as(superuser):
        group.user_set.clear()
    assert _entries(bob)[0]["changes"] == {"groups": {"old": [group.pk], "new": []}}
    assert len(_entries(ann)) == 3  # created, added, removed: clearing left ann alone


def test_plan_audience_changed_from_the_group_side_is_in_the_plans_history(coordinator):
    from tests.plans.factories import make_plan

    plan = make_plan(author=coordinator)
    group = Group.objects.create(name="Night shift")
    before = plan.history.count()
    with acting_as(coordinator):
        group.audience_plans.add(plan)
    assert plan.history.count() == before + 1
    latest = plan.history.first()
    assert latest.history_user == coordinator
    assert group.pk in [m.group_id for m in latest.audience.all()]

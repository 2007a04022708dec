"""Compliance states and their edges, computed in the database at a fixed number of queries."""

import datetime

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from core.roles import COORDINATORS, STAFF
from tests import factories
from tests.training.factories import complete, make_course, people
from training import queries

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def state_of(user, course, now=NOW):
    rows = list(queries.compliance_rows(user=user, course=course, now=now))
    assert len(rows) <= 1
    return rows[0] if rows else None


def test_no_completion_is_never():
    course = make_course(validity_days=90)
    (person,) = people(1)
    row = state_of(person, course)
    assert row["state"] == "never"
    assert row["last_completed_at"] is None and row["valid_until"] is None


def test_valid_until_is_completion_plus_validity():
    course = make_course(validity_days=90)
    (person,) = people(1)
    done = NOW - datetime.timedelta(days=10)
    record = complete(person, course, done)
    assert record.valid_until == done + datetime.timedelta(days=90)
    row = state_of(person, course)
    assert row["state"] == "current"
    assert row["last_completed_at"] == done
    assert row["valid_until"] == done + datetime.timedelta(days=90)


def test_expiry_edges_valid_until_equal_to_now_is_overdue():
    course = make_course(validity_days=90)
    (person,) = people(1)
    record = complete(person, course, NOW - datetime.timedelta(days=100))
    expiry = record.valid_until
    assert state_of(person, course, now=expiry - datetime.timedelta(microseconds=1))["state"] == (
        "due_soon"
    )
    assert state_of(person, course, now=expiry)["state"] == "overdue"
    assert state_of(person, course, now=expiry + datetime.timedelta(days=1))["state"] == "overdue"


def test_due_soon_window_boundary_is_inclusive(settings):
    settings.TRAINING_DUE_SOON_DAYS = 30
    course = make_course(validity_days=90)
    (person,) = people(1)
    record = complete(person, course, NOW - datetime.timedelta(days=5))
    expiry = record.valid_until
    window = datetime.timedelta(days=30)
    assert state_of(person, course, now=expiry - window)["state"] == "due_soon"
    assert (
        state_of(person, course, now=expiry - window - datetime.timedelta(microseconds=1))["state"]
        == "current"
    )


def test_due_soon_window_follows_the_setting(settings):
    course = make_course(validity_days=90)
    (person,) = people(1)
    complete(person, course, NOW - datetime.timedelta(days=70))  # 20 days left
    settings.TRAINING_DUE_SOON_DAYS = 30
    assert state_of(person, course)["state"] == "due_soon"
    settings.TRAINING_DUE_SOON_DAYS = 10
    assert state_of(person, course)["state"] == "current"


def test_course_without_validity_never_expires():
    course = make_course(validity_days=None)
    (person,) = people(1)
    done = NOW - datetime.timedelta(days=4000)
    record = complete(person, course, done)
    assert record.valid_until is None
    row = state_of(person, course)
    assert row["state"] == "current"
    assert row["last_completed_at"] == done and row["valid_until"] is None


def test_latest_completion_counts():
    course = make_course(validity_days=90)
    (person,) = people(1)
    complete(person, course, NOW - datetime.timedelta(days=200))
    latest = complete(person, course, NOW - datetime.timedelta(days=10))
    row = state_of(person, course)
    assert row["state"] == "current" and row["valid_until"] == latest.valid_until


def test_failed_and_attended_records_are_not_completions():
    from tests.training.factories import actor, make_session
    from training import services

    course = make_course(validity_days=90)
    a, b = people(2)
    session = make_session(course)
    services.record_register(actor=actor(), user=a, session=session, status="failed")
    services.record_register(actor=actor(), user=b, session=session, status="attended")
    assert state_of(a, course)["state"] == "never"
    assert state_of(b, course)["state"] == "never"


def test_person_added_to_a_required_group_later_shows_as_never_at_once():
    course = make_course(validity_days=90, groups=("Responders",))
    person = factories.UserFactory(username="late")
    assert state_of(person, course) is None
    person.groups.add(Group.objects.get(name="Responders"))
    assert state_of(person, course)["state"] == "never"


def test_person_in_two_requiring_groups_has_one_row():
    course = make_course(validity_days=90, groups=(STAFF, "Responders"))
    person = factories.UserFactory(username="both", groups=[STAFF, "Responders"])
    rows = list(queries.compliance_rows(user=person))
    assert [r["course_id"] for r in rows] == [course.pk]
    assert queries.compliance_counts(course=course)[course.pk]["total"] == 1 + 1  # + coordinator


def test_inactive_people_and_courses_nobody_must_take_are_left_out():
    required = make_course(title="Required")
    make_course(title="Optional", groups=())
    person, gone = people(2)
    gone.is_active = False
    gone.save()
    rows = list(queries.compliance_rows())
    assert {r["course_id"] for r in rows} == {required.pk}
    assert gone.pk not in {r["user_id"] for r in rows}
    assert person.pk in {r["user_id"] for r in rows}


def test_filters_by_state_group_course_and_counts():
    drill = make_course(title="Drill", kind="drill", validity_days=90, groups=("Responders",))
    awareness = make_course(title="Awareness", validity_days=365)
    staff = people(3, prefix="s")
    responders = people(2, prefix="r", groups=(STAFF, "Responders"))
    complete(staff[0], awareness, NOW - datetime.timedelta(days=10))
    complete(staff[1], awareness, NOW - datetime.timedelta(days=400))
    complete(responders[0], drill, NOW - datetime.timedelta(days=80))
    overdue = list(queries.compliance_rows(state="overdue"))
    assert [(r["user_id"], r["course_id"]) for r in overdue] == [(staff[1].pk, awareness.pk)]
    responder_group = Group.objects.get(name="Responders")
    by_group = list(queries.compliance_rows(group=responder_group))
    assert {(r["user_id"], r["course_id"]) for r in by_group} == {
        (responders[0].pk, drill.pk),
        (responders[1].pk, drill.pk),
    }
    counts = queries.compliance_counts()
    assert counts[drill.pk] == {"total": 2, "current": 0, "due_soon": 1, "overdue": 0, "never": 1}
    # awareness: 3 staff + 2 responders + the coordinator who created the courses
    assert counts[awareness.pk] == {
        "total": 6,
        "current": 1,
        "due_soon": 0,
        "overdue": 1,
        "never": 4,
    }


def test_changing_validity_recomputes_expiry_of_completions():
    from tests.training.factories import actor
    from training import services

    course = make_course(validity_days=90)
    (person,) = people(1)
    record = complete(person, course, NOW - datetime.timedelta(days=100))
    assert state_of(person, course)["state"] == "overdue"
    services.course_update(course=course, actor=actor(), validity_days=365)
    record.refresh_from_db()
    assert record.valid_until == record.completed_at + datetime.timedelta(days=365)
    assert state_of(person, course)["state"] == "current"
    assert record.history.first().history_change_reason == "Course validity changed to 365"
    services.course_update(course=course, actor=actor(), validity_days=None)
    record.refresh_from_db()
    assert record.valid_until is None


@pytest.mark.parametrize("size", [5, 50])
def test_compliance_endpoint_costs_the_same_at_any_size(
    size, api, compliance_user, django_assert_num_queries
):
    course = make_course(validity_days=90)
    make_course(title="Other", validity_days=None)
    staff = people(size)
    for person in staff[: size // 2]:
        complete(person, course, NOW - datetime.timedelta(days=size))
    client = api(compliance_user)
    # permissions (user, groups) + count + page
    with django_assert_num_queries(4):
        response = client.get("/api/v1/training/compliance/?page_size=100")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2 * (size + 2)  # + compliance user and coordinator
    # the same user object: its permissions are cached now
    with django_assert_num_queries(2):
        response = client.get(f"/api/v1/training/compliance/?state=never&course={course.pk}")
    assert response.status_code == 200


@pytest.mark.parametrize("size", [5, 50])
def test_compliance_admin_page_costs_the_same_at_any_size(
    size, client, compliance_user, django_assert_num_queries
):
    course = make_course(validity_days=90)
    make_course(title="Other", validity_days=None)
    staff = people(size)
    for person in staff[: size // 2]:
        complete(person, course, NOW - datetime.timedelta(days=size))
    client.force_login(compliance_user)
    # session + user + perms (2) + counts + courses + page count + page
    with django_assert_num_queries(10):
        response = client.get("/admin/training/course/compliance/")
    assert response.status_code == 200
    assert response.content.count(b"<tr>") > 2


def test_compliance_count_matches_the_rows_for_every_filter():
    """The cheap count (per group) equals counting the rows, with overlapping groups."""
    drills, leads, empty = (
        Group.objects.get_or_create(name=n)[0] for n in ("Drills", "Leads", "E")
    )
    shared = make_course(title="Shared", groups=(STAFF, "Drills"))
    staff_only = make_course(title="Staff only", validity_days=None)
    drill = make_course(title="Drill", groups=("Drills", "Leads"))
    make_course(title="Nobody", groups=())
    staff = people(6)
    for person in staff[:3]:
        person.groups.add(drills)
    staff[1].groups.add(leads)
    staff[2].groups.add(empty)
    only_drills = people(2, prefix="d", groups=("Drills",))
    staff[5].is_active = False
    staff[5].save()
    complete(staff[0], shared, NOW - datetime.timedelta(days=3))
    cases = [
        {},
        {"user": staff[1].pk},
        {"user": only_drills[0]},
        {"user": 0},
        {"course": shared.pk},
        {"course": [shared.pk, drill.pk]},
        {"course": [staff_only]},
        {"course": []},
        {"group": drills},
        {"group": leads.pk, "course": drill.pk},
        {"group": empty},
        {"group": drills, "user": staff[0].pk},
        {"state": "never"},
        {"state": ["current", "never"], "course": shared.pk},
    ]
    for filters in cases:
        expected = queries.compliance(now=NOW, **filters).count()
        assert queries.compliance_count(now=NOW, **filters) == expected, filters
    assert queries.compliance_count() > 0


def test_compliance_count_is_exact_when_groups_share_courses(django_assert_num_queries):
    """Shared courses are de-duplicated whatever the groups' sizes and ids, inactive people too."""
    coordinators = Group.objects.get(name=COORDINATORS)  # few members, lower id than Staff
    leads, twin_a, twin_b, empty, outside = (
        Group.objects.get_or_create(name=n)[0] for n in ("Leads", "Twin A", "Twin B", "E", "Out")
    )
    everyone = make_course(title="Everyone", groups=(STAFF, COORDINATORS, "Leads", "Twin A"))
    twins = make_course(title="Twins", groups=("Twin A", "Twin B", STAFF))
    lead = make_course(title="Lead", groups=("Leads",))
    coordination = make_course(title="Coordination", groups=(COORDINATORS, "Twin B"))
    outsiders = make_course(title="Outsiders", groups=("Out",))
    nobody = make_course(title="Nobody", groups=())
    staff = people(8)
    for person in staff[:3]:
        person.groups.add(leads)
    for person in staff[2:5]:
        person.groups.add(twin_a, twin_b)  # equal sizes: ranked by id
    staff[5].groups.add(coordinators, leads, twin_a, twin_b, empty)
    staff[6].groups.add(empty)
    staff[7].groups.add(coordinators, leads, twin_b)
    staff[7].is_active = False
    staff[7].save()
    only_leads = people(2, prefix="l", groups=("Leads",))
    only_out = people(1, prefix="o", groups=("Out", "E"))
    inactive_twin = people(1, prefix="i", groups=("Twin A", "Twin B"))[0]
    inactive_twin.is_active = False
    inactive_twin.save()
    ids = [everyone.pk, twins.pk, lead.pk, coordination.pk, outsiders.pk, nobody.pk]
    cases = [{}, {"course": ids}, {"course": [nobody]}, {"course": [twins, coordination]}]
    cases += [{"course": pk} for pk in ids]
    groups = [coordinators, leads, twin_a, twin_b, empty, outside]
    groups.append(Group.objects.get(name=STAFF))
    cases += [{"group": g} for g in groups]
    cases += [{"group": g.pk, "course": everyone.pk} for g in groups]
    for person in [*staff, *only_leads, *only_out, inactive_twin]:
        cases += [{"user": person.pk}, {"user": person, "course": [everyone, twins]}]
        cases += [{"user": person.pk, "group": twin_b}]
    for filters in cases:
        expected = queries.compliance(now=NOW, **filters).count()
        assert queries.compliance_count(now=NOW, **filters) == expected, filters
    # 7 active staff, 2 only in Leads, the coordinator who created the courses: once each
    assert queries.compliance_count(course=everyone) == 7 + 2 + 1
    expected = queries.compliance().count()
    with django_assert_num_queries(1):
        assert queries.compliance_count() == expected

"""The admin: courses with progress, sessions with records inline, actions, compliance page and CSV."""

import csv
import datetime
import io

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from tests.training.factories import actor, complete, make_course, make_session, people
from training import services
from training.models import Course, ExerciseEvaluation, Record

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def test_course_list_shows_progress_counts(client, coordinator):
    course = make_course(validity_days=90)
    staff = people(3)
    complete(staff[0], course, NOW - datetime.timedelta(days=1))
    complete(staff[1], course, NOW - datetime.timedelta(days=100))
    client.force_login(coordinator)
    response = client.get(reverse("admin:training_course_changelist"))
    assert response.status_code == 200
    # current / due soon / overdue / never, of the total: 3 staff + coordinators (2)
    assert b"1 / 0 / 1 / 3</a> of 5" in response.content


@pytest.mark.parametrize("size", [5, 50])
def test_course_list_costs_the_same_at_any_size(
    size, client, coordinator, django_assert_num_queries
):
    for i in range(3):
        make_course(title=f"C{i}")
    people(size)
    client.force_login(coordinator)
    # session, user, perms, count, courses, groups prefetch, progress counts, list filter's
    # groups, and one more the admin makes whatever the size; PostgreSQL first reads the
    # table's size estimate (EstimatedCountPaginator).
    with django_assert_num_queries(10 if connection.vendor == "postgresql" else 9):
        response = client.get(reverse("admin:training_course_changelist"))
    assert response.status_code == 200


def test_coordinator_creates_a_course_in_the_admin_through_the_service(client, coordinator):
    from django.contrib.auth.models import Group

    staff = Group.objects.get_or_create(name="Staff")[0]
    client.force_login(coordinator)
    response = client.post(
        reverse("admin:training_course_add"),
        {
            "title": "Tabletop",
            "kind": "tabletop",
            "description": "",
            "content": "",
            "required_for": [staff.pk],
            "validity_days": 180,
        },
    )
    assert response.status_code == 302, response.content[:3000]
    course = Course.objects.get(title="Tabletop")
    assert list(course.required_for.all()) == [staff]
    assert course.history.first().history_user == coordinator


def test_compliance_page_and_streamed_csv(client, compliance_user):
    course = make_course(validity_days=90)
    staff = people(2)
    complete(staff[0], course, NOW - datetime.timedelta(days=100))
    client.force_login(compliance_user)
    response = client.get(reverse("admin:training_course_compliance") + "?state=overdue")
    assert response.status_code == 200
    assert staff[0].username.encode() in response.content
    assert staff[1].username.encode() not in response.content
    response = client.get(reverse("admin:training_course_compliance_csv"))
    assert response.status_code == 200 and response.streaming
    text = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    states = {r["username"]: r["state"] for r in rows}
    assert states[staff[0].username] == "overdue" and states[staff[1].username] == "never"


def test_staff_without_the_report_permission_cannot_see_the_compliance_page(client):
    from tests import factories

    person = factories.UserFactory(username="adminish", is_staff=True, groups=["Staff"])
    client.force_login(person)
    assert client.get(reverse("admin:training_course_compliance")).status_code == 403
    assert client.get(reverse("admin:training_course_compliance_csv")).status_code == 403


def test_mark_attended_and_completed_actions_call_the_service(client, coordinator):
    course = make_course(validity_days=30)
    session = make_session(course)
    a, b = people(2)
    ra = services.record_register(actor=actor(), user=a, session=session)
    rb = services.record_register(actor=actor(), user=b, session=session, status="excused")
    client.force_login(coordinator)
    url = reverse("admin:training_record_changelist")
    response = client.post(
        url, {"action": "mark_completed", "_selected_action": [ra.pk, rb.pk]}, follow=True
    )
    assert response.status_code == 200
    ra.refresh_from_db()
    rb.refresh_from_db()
    assert ra.status == "completed" and ra.completed_at == session.ends_at
    assert ra.valid_until == session.ends_at + datetime.timedelta(days=30)
    assert rb.status == "excused"  # excused → completed is not allowed; reported, not changed
    last = ra.history.first()
    assert last.history_user == coordinator and last.history_change_reason == "Marked completed"
    messages = [str(m) for m in response.context["messages"]]
    assert any("1 record(s) marked completed" in m for m in messages)
    assert any("cannot become completed" in m for m in messages)


def test_session_action_marks_its_registrations_attended(client, coordinator):
    session = make_session(make_course())
    a, b = people(2)
    for person in (a, b):
        services.record_register(actor=actor(), user=person, session=session)
    client.force_login(coordinator)
    client.post(
        reverse("admin:training_session_changelist"),
        {"action": "mark_registered_attended", "_selected_action": [session.pk]},
    )
    assert set(Record.objects.values_list("status", flat=True)) == {"attended"}


def test_session_page_edits_records_inline_and_evaluation_of_exercises(client, coordinator):
    course = make_course(kind="drill", validity_days=90)
    session = make_session(course, objectives="Detect fast\nEscalate")
    (person,) = people(1)
    record = services.record_register(actor=actor(), user=person, session=session)
    client.force_login(coordinator)
    url = reverse("admin:training_session_change", args=[session.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert b"after-action evaluation" in page.content.lower()
    data = {
        "course": course.pk,
        "title": session.title,
        "starts_at_0": timezone.localtime(session.starts_at).strftime("%Y-%m-%d"),
        "starts_at_1": timezone.localtime(session.starts_at).strftime("%H:%M:%S"),
        "ends_at_0": timezone.localtime(session.ends_at).strftime("%Y-%m-%d"),
        "ends_at_1": timezone.localtime(session.ends_at).strftime("%H:%M:%S"),
        "facilitator": "",
        "location": "Room 9",
        "scenario": "",
        "objectives": session.objectives,
        "evaluation_criteria": "",
        "status": "scheduled",
        "records-TOTAL_FORMS": 1,
        "records-INITIAL_FORMS": 1,
        "records-0-id": record.pk,
        "records-0-session": session.pk,
        "records-0-user": person.pk,
        "records-0-status": "completed",
        "records-0-completed_at_0": "",
        "records-0-completed_at_1": "",
        "records-0-score": "75",
        "evaluation-TOTAL_FORMS": 1,
        "evaluation-INITIAL_FORMS": 0,
        "evaluation-0-session": session.pk,
        "evaluation-0-time_to_detect": "00:10:00",
        "evaluation-0-time_to_escalate": "00:20:00",
        "evaluation-0-time_to_contain": "",
        "evaluation-0-findings": "Slow escalation.",
    }
    response = client.post(url, data)
    assert response.status_code == 302, response.content[:4000]
    record.refresh_from_db()
    assert record.status == "completed" and record.score == 75
    assert record.history.first().history_user == coordinator
    evaluation = ExerciseEvaluation.objects.get(session=session)
    assert evaluation.time_to_detect == datetime.timedelta(minutes=10)
    assert [r.objective for r in evaluation.objective_results.all()] == ["Detect fast", "Escalate"]
    session.refresh_from_db()
    assert session.location == "Room 9"
    assert session.history.first().history_user == coordinator


def test_every_admin_page_answers(client, superuser):
    course = make_course(kind="drill")
    session = make_session(course)
    (person,) = people(1)
    record = complete(person, course, NOW - datetime.timedelta(hours=1), session=session)
    evaluation = services.evaluation_save(session=session, actor=actor(), findings="x")
    client.force_login(superuser)
    for name, args in [
        ("admin:training_course_changelist", []),
        ("admin:training_course_change", [course.pk]),
        ("admin:training_course_history", [course.pk]),
        ("admin:training_session_changelist", []),
        ("admin:training_session_change", [session.pk]),
        ("admin:training_session_history", [session.pk]),
        ("admin:training_record_changelist", []),
        ("admin:training_record_change", [record.pk]),
        ("admin:training_record_history", [record.pk]),
        ("admin:training_record_import", []),
        ("admin:training_exerciseevaluation_change", [evaluation.pk]),
        ("admin:training_exerciseevaluation_changelist", []),
        ("admin:training_improvementaction_changelist", []),
        ("admin:training_reminderclock_changelist", []),
        ("admin:training_course_compliance", []),
    ]:
        response = client.get(reverse(name, args=args))
        assert response.status_code == 200, name


def test_the_admin_and_the_services_refuse_the_models_limits_in_the_same_words(
    client, coordinator
):
    from django.core.exceptions import ValidationError

    from training.models import VALIDITY_MAX_MESSAGE

    client.force_login(coordinator)
    response = client.post(
        reverse("admin:training_course_add"),
        {"title": "Forever", "kind": "course", "validity_days": 36501},
    )
    assert response.status_code == 200 and VALIDITY_MAX_MESSAGE in response.content.decode()
    with pytest.raises(ValidationError) as refused:
        services.course_create(actor=coordinator, title="Forever", validity_days=36501)
    assert refused.value.message_dict == {"validity_days": [VALIDITY_MAX_MESSAGE]}
    assert not Course.objects.filter(title="Forever").exists()

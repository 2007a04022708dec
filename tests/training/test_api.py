"""The training API as api.md lays it out: courses, sessions, records, compliance, history."""

import datetime

import pytest
from django.utils import timezone

from tests import factories
from tests.training.factories import actor, complete, make_course, make_session, people
from training.models import Record

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def iso(value):
    return value.isoformat()


def create_course(client, **data):
    body = {"title": "Drill", "kind": "drill", "validity_days": 90, "required_for": ["Staff"]}
    body.update(data)
    return client.post("/api/v1/training/courses/", body, format="json")


def test_coordinator_builds_a_course_session_and_completion_and_reads_compliance(
    api, coordinator, staff_user
):
    client = api(coordinator)
    response = create_course(client)
    assert response.status_code == 201, response.json()
    course = response.json()
    assert course["required_for"] == ["Staff"] and course["validity_days"] == 90
    assert response["ETag"]
    starts = NOW - datetime.timedelta(days=80)
    response = client.post(
        "/api/v1/training/sessions/",
        {
            "course": course["id"],
            "title": "Q3 drill",
            "starts_at": iso(starts),
            "ends_at": iso(starts + datetime.timedelta(hours=2)),
            "facilitator": coordinator.pk,
            "location": "Room 1",
            "objectives": "Detect\nEscalate",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    session = response.json()
    assert session["status"] == "scheduled"
    done = starts + datetime.timedelta(hours=2)
    response = client.post(
        "/api/v1/training/records/",
        {
            "user": staff_user.pk,
            "session": session["id"],
            "status": "completed",
            "completed_at": iso(done),
            "score": 90,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    record = response.json()
    assert record["valid_until"] == (done + datetime.timedelta(days=90)).isoformat().replace(
        "+00:00", "Z"
    )
    response = client.get(
        f"/api/v1/training/compliance/?user={staff_user.pk}&course={course['id']}"
    )
    assert response.status_code == 200
    (row,) = response.json()["results"]
    assert row["state"] == "due_soon"
    assert row["user"] == staff_user.pk and row["course"] == course["id"]
    assert set(row) >= {"user", "course", "state", "last_completed_at", "valid_until"}


def test_record_registered_then_completed_by_patch_with_reason(api, coordinator, staff_user):
    course = make_course(validity_days=365)
    session = make_session(course)
    client = api(coordinator)
    response = client.post(
        "/api/v1/training/records/",
        {"user": staff_user.pk, "session": session.pk},
        format="json",
    )
    assert response.status_code == 201
    record = response.json()
    assert record["status"] == "registered" and record["valid_until"] is None
    response = client.patch(
        f"/api/v1/training/records/{record['id']}/",
        {"status": "completed", "reason": "Signed the sheet"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "completed"
    # No time given: the completion is the session's end.
    assert body["completed_at"] == session.ends_at.isoformat().replace("+00:00", "Z")
    history = Record.objects.get(pk=record["id"]).history.first()
    assert history.history_user == coordinator
    assert history.history_change_reason == "Signed the sheet"


def test_staff_read_only_their_own_records_and_write_none(api, staff_user):
    course = make_course()
    other = factories.staff(username="other")
    mine = complete(staff_user, course, NOW - datetime.timedelta(days=3))
    theirs = complete(other, course, NOW - datetime.timedelta(days=3))
    client = api(staff_user)
    response = client.get("/api/v1/training/records/")
    assert response.status_code == 200
    assert [r["id"] for r in response.json()["results"]] == [mine.pk]
    assert client.get(f"/api/v1/training/records/{mine.pk}/").status_code == 200
    assert client.get(f"/api/v1/training/records/{theirs.pk}/").status_code == 404
    assert client.get(f"/api/v1/training/records/?user={other.pk}").json()["count"] == 0
    assert (
        client.post(
            "/api/v1/training/records/",
            {"user": staff_user.pk, "session": mine.session_id},
            format="json",
        ).status_code
        == 403
    )
    assert (
        client.patch(
            f"/api/v1/training/records/{mine.pk}/", {"status": "failed"}, format="json"
        ).status_code
        == 403
    )
    assert create_course(client).status_code == 403
    assert client.patch(f"/api/v1/training/courses/{course.pk}/", {"title": "x"}).status_code == 403
    assert client.get(f"/api/v1/training/records/{mine.pk}/history/").status_code == 403
    # Compliance: own rows only, whatever the filter says.
    rows = client.get("/api/v1/training/compliance/").json()["results"]
    assert {r["user"] for r in rows} == {staff_user.pk}
    rows = client.get(f"/api/v1/training/compliance/?user={other.pk}").json()["results"]
    assert rows == []
    # Courses and sessions are readable.
    assert client.get("/api/v1/training/courses/").status_code == 200
    assert client.get("/api/v1/training/sessions/").status_code == 200


def test_compliance_group_reads_everything_and_writes_nothing(api, compliance_user):
    course = make_course()
    a, b = people(2)
    record = complete(a, course, NOW - datetime.timedelta(days=3))
    client = api(compliance_user)
    assert client.get("/api/v1/training/records/").json()["count"] == 1
    rows = client.get("/api/v1/training/compliance/").json()["results"]
    assert {a.pk, b.pk} <= {r["user"] for r in rows}
    assert client.get(f"/api/v1/training/records/{record.pk}/history/").status_code == 200
    assert client.get(f"/api/v1/training/courses/{course.pk}/history/").status_code == 200
    assert create_course(client).status_code == 403
    assert (
        client.patch(
            f"/api/v1/training/records/{record.pk}/", {"score": 1}, format="json"
        ).status_code
        == 403
    )
    assert (
        client.post(
            "/api/v1/training/records/", {"user": b.pk, "session": record.session_id}
        ).status_code
        == 403
    )


def test_coordinators_reach_compliance_of_everyone(api, coordinator):
    course = make_course()
    people(3)
    rows = api(coordinator).get(f"/api/v1/training/compliance/?course={course.pk}").json()
    # three staff, the course's creator and the requesting coordinator (both in Staff)
    assert rows["count"] == 5


def test_anonymous_gets_no_data(api):
    for path in ("courses/", "sessions/", "records/", "compliance/"):
        assert api().get(f"/api/v1/training/{path}").status_code in (401, 403)


@pytest.mark.parametrize("resource", ["courses", "sessions", "records"])
def test_delete_and_put_answer_405(api, superuser, resource):
    course = make_course()
    session = make_session(course)
    record = complete(superuser, course, NOW - datetime.timedelta(days=1), session=session)
    pk = {"courses": course.pk, "sessions": session.pk, "records": record.pk}[resource]
    client = api(superuser)
    assert client.delete(f"/api/v1/training/{resource}/{pk}/").status_code == 405
    assert client.put(f"/api/v1/training/{resource}/{pk}/", {}).status_code == 405
    staff_client = api(factories.staff(username="plain"))
    assert staff_client.delete(f"/api/v1/training/{resource}/{pk}/").status_code == 405


@pytest.mark.parametrize(
    "body, field",
    [
        ({"title": ""}, "title"),
        ({"kind": "picnic"}, "kind"),
        ({"validity_days": 0}, "validity_days"),
        ({"validity_days": -5}, "validity_days"),
        ({"validity_days": "soon"}, "validity_days"),
        ({"required_for": ["No such group"]}, "required_for"),
        ({"required_for": "Staff"}, "required_for"),
        ({"plan": 999999}, "plan"),
    ],
)
def test_bad_course_input_is_a_400_naming_the_field(api, coordinator, body, field):
    response = create_course(api(coordinator), **body)
    assert response.status_code == 400
    assert field in response.json()


def test_bad_session_and_record_input_is_a_400(api, coordinator, staff_user):
    client = api(coordinator)
    course = make_course()
    starts = NOW
    response = client.post(
        "/api/v1/training/sessions/",
        {"course": course.pk, "starts_at": iso(starts), "ends_at": iso(starts)},
        format="json",
    )
    assert response.status_code == 400 and "ends_at" in response.json()
    response = client.post(
        "/api/v1/training/sessions/",
        {"course": course.pk, "starts_at": "2026-01-01T10:00+20:30", "ends_at": "tomorrow"},
        format="json",
    )
    assert response.status_code == 400
    session = make_session(course)
    for body, field in [
        ({"user": staff_user.pk, "session": session.pk, "status": "done"}, "status"),
        ({"user": staff_user.pk, "session": session.pk, "score": 101}, "score"),
        ({"user": staff_user.pk, "session": 10**6}, "session"),
        ({"user": 10**6, "session": session.pk}, "user"),
        (
            {
                "user": staff_user.pk,
                "session": session.pk,
                "status": "completed",
                "completed_at": iso(NOW + datetime.timedelta(days=3)),
            },
            "completed_at",
        ),
        (
            {
                "user": staff_user.pk,
                "session": session.pk,
                "status": "registered",
                "completed_at": iso(NOW),
            },
            "completed_at",
        ),
    ]:
        response = client.post("/api/v1/training/records/", body, format="json")
        assert response.status_code == 400, (body, response.json())
        assert field in response.json(), (body, response.json())
    for params in ("state=bogus", "user=abc", "group=Nope", "course=-1", f"user={2**70}"):
        response = client.get(f"/api/v1/training/compliance/?{params}")
        assert response.status_code == 400, params


def test_duplicate_record_is_a_409(api, coordinator, staff_user):
    session = make_session(make_course())
    client = api(coordinator)
    body = {"user": staff_user.pk, "session": session.pk}
    assert client.post("/api/v1/training/records/", body, format="json").status_code == 201
    response = client.post("/api/v1/training/records/", body, format="json")
    assert response.status_code == 409
    assert Record.objects.count() == 1


def test_forbidden_status_changes_are_409(api, coordinator, staff_user):
    session = make_session(make_course())
    client = api(coordinator)
    record = client.post(
        "/api/v1/training/records/",
        {"user": staff_user.pk, "session": session.pk, "status": "excused"},
        format="json",
    ).json()
    response = client.patch(
        f"/api/v1/training/records/{record['id']}/", {"status": "completed"}, format="json"
    )
    assert response.status_code == 409
    response = client.patch(
        f"/api/v1/training/sessions/{session.pk}/", {"status": "completed"}, format="json"
    )
    assert response.status_code == 200
    response = client.patch(
        f"/api/v1/training/sessions/{session.pk}/", {"status": "scheduled"}, format="json"
    )
    assert response.status_code == 409


def test_stale_if_match_is_412_and_changes_nothing(api, coordinator):
    course = make_course(title="Before")
    client = api(coordinator)
    etag = client.get(f"/api/v1/training/courses/{course.pk}/")["ETag"]
    assert (
        client.patch(
            f"/api/v1/training/courses/{course.pk}/",
            {"title": "First"},
            format="json",
            HTTP_IF_MATCH=etag,
        ).status_code
        == 200
    )
    response = client.patch(
        f"/api/v1/training/courses/{course.pk}/",
        {"title": "Second"},
        format="json",
        HTTP_IF_MATCH=etag,
    )
    assert response.status_code == 412
    course.refresh_from_db()
    assert course.title == "First"


def test_history_lists_changes_with_user_and_reason(api, coordinator, compliance_user):
    client = api(coordinator)
    course = create_course(client).json()
    client.patch(
        f"/api/v1/training/courses/{course['id']}/",
        {"validity_days": 120, "required_for": ["Staff", "Coordinators"]},
        format="json",
    )
    response = api(compliance_user).get(f"/api/v1/training/courses/{course['id']}/history/")
    assert response.status_code == 200
    entries = response.json()["results"]
    assert all(e["history_user"] == coordinator.pk for e in entries)
    assert entries[-1]["history_type"] == "created"
    assert any(e["changes"].get("validity_days") == {"old": 90, "new": 120} for e in entries)
    assert any("required_for" in e["changes"] for e in entries)
    assert entries[-1]["history_change_reason"] == "Course created"


@pytest.mark.parametrize("size", [3, 30])
def test_record_list_costs_the_same_at_any_size(
    api, compliance_user, size, django_assert_num_queries
):
    course = make_course()
    for person in people(size):
        complete(person, course, NOW - datetime.timedelta(days=1))
    client = api(compliance_user)
    # permissions (2) + count + page
    with django_assert_num_queries(4):
        response = client.get("/api/v1/training/records/?page_size=100")
    assert response.json()["count"] == size


def test_course_filters(api, staff_user):
    make_course(title="Needed", kind="drill")
    make_course(title="Optional", groups=())
    client = api(staff_user)
    titles = [
        c["title"] for c in client.get("/api/v1/training/courses/?kind=drill").json()["results"]
    ]
    assert titles == ["Needed"]
    titles = [
        c["title"]
        for c in client.get("/api/v1/training/courses/?required_for=Staff").json()["results"]
    ]
    assert titles == ["Needed"]


def test_actor_of_factories_is_a_coordinator():
    assert actor().has_perm("training.add_course")


def test_a_record_patch_with_if_match_loads_the_record_once_and_reads_it_back_once(
    api, coordinator
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    session = make_session(make_course(validity_days=30))
    (person,) = people(1)
    from training import services

    record = services.record_register(actor=actor(), user=person, session=session)
    client = api(coordinator)
    url = f"/api/v1/training/records/{record.pk}/"
    etag = client.get(url)["ETag"]
    with CaptureQueriesContext(connection) as ctx:
        response = client.patch(url, {"status": "attended"}, format="json", HTTP_IF_MATCH=etag)
    assert response.status_code == 200 and response.json()["status"] == "attended"
    loads = [
        q["sql"]
        for q in ctx.captured_queries
        if q["sql"].startswith("SELECT") and '"training_record"."status"' in q["sql"]
    ]
    # One load under the lock (If-Match, the rules and the write all use it), one read back.
    assert len(loads) == 2, loads

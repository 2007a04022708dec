"""The incidents API as api.md lays it out: codes, bodies, permissions, visibility, history, query counts."""

import datetime

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token

from incidents.models import Incident
from tests import factories
from tests.incidents import factories as f

pytestmark = pytest.mark.django_db


def report_body(**overrides):
    body = {
        "title": "Laptop stolen",
        "description": "Taken from a car.",
        "occurred_at": (timezone.now() - datetime.timedelta(hours=2)).isoformat(),
        "category": f.category().pk,
        "impact": 3,
        "urgency": 2,
    }
    body.update(overrides)
    return body


def test_staff_report_an_incident(api, staff_user):
    response = api(staff_user).post("/api/v1/incidents/", report_body(), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["reference"].startswith("INC-") and body["priority"] == "P2"
    assert body["status"] == "reported" and body["is_late"] is False
    assert body["reporter"] == staff_user.pk


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"title": ""}, "title"),
        ({"impact": 9}, "impact"),
        ({"urgency": "x"}, "urgency"),
        ({"category": 999999}, "category"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"occurred_at": (timezone.now() + datetime.timedelta(days=2)).isoformat()}, "occurred_at"),
    ],
)
def test_bad_reports_get_400_with_the_field(api, staff_user, override, field):
    response = api(staff_user).post("/api/v1/incidents/", report_body(**override), format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Incident.objects.exists()


def test_priority_and_status_are_read_only_in_patch(api, coordinator):
    incident = f.incident(impact=4, urgency=4)
    response = api(coordinator).patch(
        f"/api/v1/incidents/{incident.pk}/", {"priority": "P1", "status": "closed", "title": "New"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["priority"] == "P4" and response.json()["status"] == "reported"
    assert response.json()["title"] == "New"


def test_transition_200_then_409_for_a_forbidden_step(api, coordinator):
    incident = f.incident()
    client = api(coordinator)
    ok = client.post(f"/api/v1/incidents/{incident.pk}/transition/", {"status": "triaged", "reason": "real"}, format="json")
    assert ok.status_code == 200 and ok.json()["status"] == "triaged"
    bad = client.post(f"/api/v1/incidents/{incident.pk}/transition/", {"status": "closed"}, format="json")
    assert bad.status_code == 409 and "cannot go" in bad.json()["detail"]
    unknown = client.post(f"/api/v1/incidents/{incident.pk}/transition/", {"status": "done"}, format="json")
    assert unknown.status_code == 400


def test_staff_cannot_edit_transition_or_escalate(api, staff_user):
    incident = f.incident(reporter=staff_user)
    client = api(staff_user)
    assert client.patch(f"/api/v1/incidents/{incident.pk}/", {"title": "x"}, format="json").status_code == 403
    assert client.post(f"/api/v1/incidents/{incident.pk}/transition/", {"status": "triaged"}, format="json").status_code == 403
    assert client.post(f"/api/v1/incidents/{incident.pk}/escalations/", {}, format="json").status_code == 403


def test_compliance_reads_but_cannot_write(api):
    auditor = factories.UserFactory(username="pure-audit", groups=["Compliance"], is_staff=True)
    incident = f.incident()
    client = api(auditor)
    assert client.get(f"/api/v1/incidents/{incident.pk}/").status_code == 200
    assert client.patch(f"/api/v1/incidents/{incident.pk}/", {"title": "x"}, format="json").status_code == 403
    assert client.post("/api/v1/incidents/", report_body(), format="json").status_code == 403


def test_delete_and_put_answer_405(api, coordinator):
    incident = f.incident()
    client = api(coordinator)
    assert client.delete(f"/api/v1/incidents/{incident.pk}/").status_code == 405
    assert client.put(f"/api/v1/incidents/{incident.pk}/", report_body(), format="json").status_code == 405


def test_delete_answers_405_even_without_any_permission(api, staff_user):
    """No one deletes incidents: the method does not exist, whoever asks."""
    incident = f.incident(staff_user)
    assert api(staff_user).delete(f"/api/v1/incidents/{incident.pk}/").status_code == 405
    assert api(staff_user).delete("/api/v1/incidents/").status_code == 405


def test_stale_if_match_answers_412_and_changes_nothing(api, coordinator):
    incident = f.incident(title="Original")
    client = api(coordinator)
    etag = client.get(f"/api/v1/incidents/{incident.pk}/")["ETag"]
    first = client.patch(f"/api/v1/incidents/{incident.pk}/", {"title": "First"}, format="json", HTTP_IF_MATCH=etag)
    assert first.status_code == 200 and first["ETag"] != etag
    second = client.patch(f"/api/v1/incidents/{incident.pk}/", {"title": "Second"}, format="json", HTTP_IF_MATCH=etag)
    assert second.status_code == 412
    assert Incident.objects.get(pk=incident.pk).title == "First"


def test_escalations_timeline_and_actions(api, coordinator):
    incident = f.incident()
    boss = factories.coordinator(username="boss")
    client = api(coordinator)
    url = f"/api/v1/incidents/{incident.pk}"
    esc = client.post(f"{url}/escalations/", {"level": "2", "to_user": boss.pk, "reason": "Need help"}, format="json")
    assert esc.status_code == 201 and esc.json()["to_user"] == boss.pk
    both = client.post(f"{url}/escalations/", {"level": "2", "to_user": boss.pk, "to_group": "Staff", "reason": "x"}, format="json")
    assert both.status_code == 400
    assert client.get(f"{url}/escalations/").json()["count"] == 1
    note = client.post(f"{url}/timeline/", {"text": "Called the vendor"}, format="json")
    assert note.status_code == 201 and note.json()["kind"] == "note"
    assert client.post(f"{url}/timeline/", {"text": ""}, format="json").status_code == 400
    action = client.post(f"{url}/actions/", {"kind": "containment", "description": "Block IP", "owner": boss.pk}, format="json")
    assert action.status_code == 201
    done = client.patch(f"/api/v1/actions/{action.json()['id']}/", {"status": "done"}, format="json")
    assert done.status_code == 200 and done.json()["completed_at"] is not None
    assert client.patch(f"/api/v1/actions/{action.json()['id']}/", {"status": "nope"}, format="json").status_code == 400
    assert client.post(f"{url}/actions/", {"kind": "magic", "description": "x"}, format="json").status_code == 400


def test_list_filters(api, coordinator):
    low = f.incident(impact=4, urgency=4, title="Low one")
    high = f.incident(impact=1, urgency=1, title="High one")
    client = api(coordinator)
    assert [r["id"] for r in client.get("/api/v1/incidents/?priority=P1").json()["results"]] == [high.pk]
    assert [r["id"] for r in client.get("/api/v1/incidents/?search=Low").json()["results"]] == [low.pk]
    ordered = client.get("/api/v1/incidents/?ordering=priority").json()["results"]
    assert [r["id"] for r in ordered] == [high.pk, low.pk]
    after = client.get("/api/v1/incidents/", {"reported_after": (timezone.now() + datetime.timedelta(hours=1)).isoformat()})
    assert after.json()["count"] == 0
    assert client.get("/api/v1/incidents/?status=nonsense").status_code == 400


@pytest.mark.parametrize("rows", [5, 50])
def test_list_costs_the_same_queries_at_5_and_50_rows(api, coordinator, rows, django_assert_num_queries):
    f.targets()
    reporter = factories.staff(username="rep")
    for n in range(rows):
        f.incident(reporter, title=f"incident {n}", impact=1 + n % 4)
    client = api(coordinator)
    client.get("/api/v1/incidents/?page_size=100")  # warm the permission cache
    # count + page + response targets (permissions are cached per user)
    with django_assert_num_queries(3):
        response = client.get("/api/v1/incidents/?page_size=100")
    assert response.json()["count"] == rows


def test_token_authenticated_writes_record_the_user(client, coordinator):
    token = Token.objects.create(user=coordinator)
    incident = f.incident()
    response = client.post(
        f"/api/v1/incidents/{incident.pk}/transition/",
        {"status": "triaged", "reason": "by token"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {token.key}",
    )
    assert response.status_code == 200
    record = Incident.objects.get(pk=incident.pk).history.first()
    assert record.history_user == coordinator and record.history_change_reason == "Reported → Triaged: by token"


def test_history_endpoint_lists_changes_with_user_and_reason(api, coordinator, compliance_user):
    incident = f.incident(title="Before")
    api(coordinator).patch(f"/api/v1/incidents/{incident.pk}/", {"title": "After"}, format="json")
    entries = api(compliance_user).get(f"/api/v1/incidents/{incident.pk}/history/").json()["results"]
    assert entries[0]["history_user"] == coordinator.pk
    assert entries[0]["changes"]["title"] == {"old": "Before", "new": "After"}
    assert entries[-1]["history_type"] == "created"


def test_staff_cannot_read_history(api, staff_user):
    incident = f.incident(reporter=staff_user)
    assert api(staff_user).get(f"/api/v1/incidents/{incident.pk}/history/").status_code == 403


def test_metrics(api, coordinator, staff_user):
    f.targets()
    incident = f.incident(occurred_hours_ago=30)
    f.walk(incident, coordinator, "triaged")
    body = api(coordinator).get("/api/v1/metrics/incidents/").json()
    assert body["incidents"] == 1 and body["late_reports"] == 1
    assert body["targets_met_percent"]["acknowledge"] == 100.0
    assert body["mean_minutes_to_acknowledge"] is not None
    assert api(coordinator).get("/api/v1/metrics/incidents/?since=bad").status_code == 400
    assert api(staff_user).get("/api/v1/metrics/incidents/").status_code == 403


def test_date_filters_take_any_utc_offset_and_reject_unrepresentable_ones(api, coordinator):
    """PostgreSQL stores offsets up to ±15:59; Python parses up to ±23:59."""
    incident = f.incident(title="Offset one")
    client = api(coordinator)
    # 10:00 at +20:30 is 13:30 the day before in UTC: the incident reported now is after it
    before = (incident.reported_at - datetime.timedelta(days=2)).strftime("%Y-%m-%dT10:00:00+20:30")
    response = client.get("/api/v1/incidents/", {"reported_after": before})
    assert response.status_code == 200
    assert [r["id"] for r in response.json()["results"]] == [incident.pk]
    overflow = client.get("/api/v1/incidents/", {"reported_after": "0001-01-01T00:00:00+20:30"})
    assert overflow.status_code == 400
    assert "reported_after" in overflow.json()


def test_report_form_accepts_a_far_utc_offset(client, staff_user):
    from incidents.forms import ReportForm

    form = ReportForm(data={"occurred_at": "2026-01-01T10:00:00+20:30"})
    form.is_valid()
    assert "occurred_at" not in form.errors
    assert form.cleaned_data["occurred_at"] == datetime.datetime(2025, 12, 31, 13, 30, tzinfo=datetime.UTC)


def test_breached_filter(api, coordinator):
    f.targets()
    old = f.incident(impact=1, urgency=1, title="Old P1")
    old.reported_at -= datetime.timedelta(hours=1)  # the P1 acknowledge target is 15 minutes
    old.save()
    fresh = f.incident(impact=1, urgency=1, title="Fresh P1")
    client = api(coordinator)
    assert [r["id"] for r in client.get("/api/v1/incidents/?breached=true").json()["results"]] == [old.pk]
    assert [r["id"] for r in client.get("/api/v1/incidents/?breached=false").json()["results"]] == [fresh.pk]


@pytest.mark.parametrize("sees_reporter", [False, True])
def test_list_rows_built_by_hand_match_the_declared_serializer(api, coordinator, sees_reporter):
    """The list's hand-built rows (speed) say exactly what the declared fields would."""
    import json

    from incidents import queries, services
    from incidents.api import serializers as s

    f.targets()
    reporter = factories.staff(username="rep")
    f.incident(reporter, title="Plain", impact=1, urgency=1)
    f.incident(reporter, title="Anonymous", anonymous=True, occurred_hours_ago=72)
    f.incident(coordinator, title="Mine, confidential", confidential=True)
    moving = f.incident(reporter, title="Moving", affected_service="Mail")
    services.incident_update(incident=moving, actor=coordinator, incident_manager=coordinator)
    f.walk(moving, coordinator, "triaged", "investigating", "contained")
    f.walk(f.incident(reporter, title="Dropped"), coordinator, "cancelled")
    rows = list(queries.incident_list_rows(coordinator))
    context = {"sees_reporter": sees_reporter, "targets": queries.targets_by_priority()}
    fast = s.IncidentListRowSerializer(rows, many=True, context=context).data
    declared = s.IncidentListSerializer(rows, many=True, context=context).data
    assert len(fast) == 5
    assert json.loads(json.dumps(fast, default=str)) == json.loads(
        json.dumps(declared, default=str)
    )
    anonymous = next(row for row in fast if row["title"] == "Anonymous")
    assert anonymous["reporter"] == (reporter.pk if sees_reporter else None)


@pytest.mark.parametrize("sees_reporter", [False, True])
def test_the_detail_built_by_hand_matches_the_declared_serializer(api, coordinator, sees_reporter):
    """The detail read's hand-built body (speed) says exactly what the declared fields would,
    for an incident with a team, one closed with a review, one cancelled, an anonymous one."""
    import json

    from django.db.models import Prefetch
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from incidents import queries, services
    from incidents.api import serializers as s
    from incidents.models import TeamMember

    f.targets()
    reporter = factories.staff(username="rep")
    f.incident(reporter, title="Anonymous", anonymous=True, occurred_hours_ago=72)
    teamed = f.incident(reporter, title="Teamed", impact=1, urgency=1, affected_service="Mail")
    services.incident_update(incident=teamed, actor=coordinator, incident_manager=coordinator)
    services.team_member_add(incident=teamed, actor=coordinator, user=factories.staff())
    f.walk(teamed, coordinator, "triaged", "investigating", "contained")
    closed = f.incident(reporter, title="Closed", impact=4, urgency=4)
    f.walk(closed, coordinator, "triaged", "investigating", "contained", "eradicated", "recovered")
    f.completed_review(closed, coordinator)
    f.walk(closed, coordinator, "closed")
    f.walk(f.incident(reporter, title="Dropped"), coordinator, "cancelled")
    request = Request(APIRequestFactory().get("/"))
    request.user = coordinator
    team = Prefetch("team", TeamMember.objects.order_by("added_at", "id"))
    incidents = list(queries.incident_list(coordinator).prefetch_related(team))
    assert len(incidents) == 4
    for with_targets in (True, False):
        context = {"request": request, "sees_reporter": sees_reporter}
        if with_targets:
            context["targets"] = queries.targets_by_priority()
        for incident in incidents:
            fast = s.IncidentDetailRowSerializer(incident, context=context).data
            declared = s.IncidentDetailSerializer(incident, context=context).data
            assert json.dumps(fast, default=str) == json.dumps(declared, default=str)
            if incident.title == "Teamed":
                assert len(fast["team"]) == 1 and fast["allowed_transitions"]
                assert fast["targets"]["acknowledge"] is not None

"""The workspace over the API: the team (the one DELETE), the review, communications, acknowledging."""

import pytest
from django.contrib.auth.models import Group

from incidents import services
from incidents.models import Communication, MessageTemplate, TeamMember, TimelineEntry
from tests import factories
from tests.incidents import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def case(coordinator):
    f.targets()
    return f.incident()


def team_url(incident, member=None):
    base = f"/api/v1/incidents/{incident.pk}/team/"
    return base if member is None else f"{base}{member}/"


def test_the_team_is_read_joined_and_left_and_leaving_is_recorded(api, coordinator, case):
    person = factories.staff(first_name="Dana", last_name="Scully")
    client = api(coordinator)
    response = client.post(team_url(case), {"user": person.pk, "role": "scribe"}, format="json")
    assert response.status_code == 201, response.json()
    member = response.json()
    assert member["full_name"] == "Dana Scully" and member["role"] == "scribe"
    rows = client.get(team_url(case)).json()["results"]
    assert [row["user"] for row in rows] == [person.pk]
    response = client.delete(team_url(case, member["id"]), {"reason": "Shift over"}, format="json")
    assert response.status_code == 204
    assert not TeamMember.objects.filter(pk=member["id"]).exists()
    gone = TeamMember.history.filter(id=member["id"], history_type="-").get()
    assert gone.history_user == coordinator and gone.history_change_reason == "Shift over"
    assert case.timeline.filter(
        kind=TimelineEntry.Kind.TEAM, text__contains="left the team"
    ).exists()
    assert client.delete(team_url(case, member["id"])).status_code == 404


def test_delete_is_offered_on_the_team_member_route_only(api, coordinator, case):
    client = api(coordinator)
    for url in (
        f"/api/v1/incidents/{case.pk}/",
        team_url(case),
        f"/api/v1/incidents/{case.pk}/review/",
        f"/api/v1/incidents/{case.pk}/communications/",
        "/api/v1/incidents/",
        "/api/v1/users/",
    ):
        assert client.delete(url).status_code == 405, url


def test_staff_may_not_change_the_team_and_a_reporter_gets_404(api, case):
    reporter = case.reporter
    member = services.team_member_add(
        incident=case, actor=factories.coordinator(), user=factories.staff()
    )
    client = api(reporter)
    assert client.get(team_url(case)).status_code == 404
    # A write they hold no permission for is refused before the incident is looked up.
    assert client.delete(team_url(case, member.pk)).status_code == 403
    assert client.get(f"/api/v1/incidents/{case.pk}/review/").status_code == 404
    assert client.get(f"/api/v1/incidents/{case.pk}/communications/").status_code == 404


def test_a_confidential_incident_outside_the_team_is_404(api, coordinator):
    manager = factories.coordinator()
    secret = f.incident(manager, confidential=True, incident_manager=manager)
    outsider = api(coordinator)
    assert outsider.get(team_url(secret)).status_code == 404
    assert (
        outsider.post(team_url(secret), {"user": coordinator.pk}, format="json").status_code == 404
    )


def test_the_review_is_written_with_put_and_completed(api, coordinator, case):
    client = api(coordinator)
    url = f"/api/v1/incidents/{case.pk}/review/"
    assert client.get(url).status_code == 404
    assert client.post(url + "complete/").status_code == 409
    response = client.put(
        url, {"summary": "What happened", "participants": [coordinator.pk]}, format="json"
    )
    assert response.status_code == 201, response.json()
    etag = response["ETag"]
    assert response.json()["participants"] == [coordinator.pk]
    assert client.post(url + "complete/").status_code == 400  # no root cause, no lessons
    stale = client.put(url, {"root_cause": "x"}, format="json", HTTP_IF_MATCH='"stale"')
    assert stale.status_code == 412
    response = client.put(
        url,
        {"root_cause": "Cause", "lessons_learned": "Lessons"},
        format="json",
        HTTP_IF_MATCH=etag,
    )
    assert response.status_code == 200 and response.json()["summary"] == "What happened"
    response = client.post(url + "complete/")
    assert response.status_code == 200 and response.json()["status"] == "completed"
    assert response.json()["completed_by"] == coordinator.pk
    assert client.put(url, {"summary": "again"}, format="json").status_code == 409


def test_staff_may_not_write_the_review(api, case, staff_user):
    url = f"/api/v1/incidents/{case.pk}/review/"
    assert api(staff_user).put(url, {"summary": "x"}, format="json").status_code in (403, 404)


def test_a_communication_is_previewed_then_sent_from_a_template(
    api, coordinator, case, mailoutbox, django_capture_on_commit_callbacks
):
    template = MessageTemplate.objects.create(
        name="Update", subject="{reference}: update", body="Status: {status}"
    )
    client = api(coordinator)
    url = f"/api/v1/incidents/{case.pk}/communications/"
    body = {"template": template.pk, "audience": "board@example.org", "preview": True}
    preview = client.post(url, body, format="json")
    assert preview.status_code == 200, preview.json()
    assert preview.json()["subject"] == f"{case.reference}: update"
    assert preview.json()["recipients"] == ["board@example.org"]
    assert Communication.objects.count() == 0 and mailoutbox == []
    with django_capture_on_commit_callbacks(execute=True):
        sent = client.post(
            url, {**body, "preview": False, "digest": preview.json()["digest"]}, format="json"
        )
    assert sent.status_code == 201, sent.json()
    assert sent.json()["recipient_count"] == 1 and sent.json()["sent_by"] == coordinator.pk
    assert [row["id"] for row in client.get(url).json()["results"]] == [sent.json()["id"]]
    stale = client.post(url, {**body, "preview": False, "digest": "0" * 64}, format="json")
    assert stale.status_code == 412


def test_a_communication_to_a_bad_address_is_400(api, coordinator, case):
    url = f"/api/v1/incidents/{case.pk}/communications/"
    for audience in ("not an address", "a@example.org, <script>", ""):
        response = api(coordinator).post(
            url, {"subject": "s", "body": "b", "audience": audience}, format="json"
        )
        assert response.status_code == 400, audience
        assert "audience" in response.json()
    assert Communication.objects.count() == 0


def test_staff_may_not_send_communications(api, case, staff_user):
    url = f"/api/v1/incidents/{case.pk}/communications/"
    response = api(staff_user).post(
        url, {"subject": "s", "body": "b", "audience": "a@example.org"}, format="json"
    )
    assert response.status_code in (403, 404)


def test_the_recipient_acknowledges_an_escalation_and_a_bystander_may_not(api, coordinator, case):
    boss = factories.UserFactory(username="boss")  # no role: escalated to by name
    escalation = services.incident_escalate(
        incident=case, actor=coordinator, level="3", to_user=boss, reason="Need a decision"
    )
    url = f"/api/v1/escalations/{escalation.pk}/acknowledge/"
    assert api(factories.staff()).post(url).status_code == 404  # not theirs, not visible
    response = api(boss).post(url)
    assert response.status_code == 200, response.json()
    assert response.json()["acknowledged_by"] == boss.pk
    escalation.refresh_from_db()
    assert escalation.acknowledged_by == boss
    assert escalation.history.first().history_user == boss
    assert api(boss).get(url).status_code == 405


def test_a_group_member_acknowledges_and_a_visible_bystander_is_403(api, coordinator, case):
    group = Group.objects.create(name="Executives")
    member = factories.UserFactory(username="exec")
    member.groups.add(group)
    escalation = services.incident_escalate(
        incident=case, actor=coordinator, level="3", to_group=group, reason="x"
    )
    url = f"/api/v1/escalations/{escalation.pk}/acknowledge/"
    # An intake member sees the incident (no manager yet) but holds no change_escalation.
    intake = factories.UserFactory(groups=["Incident intake", "Staff"])
    if intake.has_perm("incidents.change_escalation"):
        pytest.skip("the intake role may change escalations")
    assert api(intake).post(url).status_code == 403
    assert api(member).post(url).status_code == 200


def test_a_recipient_outside_a_confidential_incident_reads_its_escalation_by_reference_only(
    api, coordinator
):
    f.targets()
    secret = f.incident(
        coordinator, title="Secret merger leak", confidential=True, incident_manager=coordinator
    )
    outsider = factories.coordinator(username="coord-outside")  # a Coordinator, not on the team
    escalation = services.incident_escalate(
        incident=secret,
        actor=coordinator,
        level="3",
        to_group=Group.objects.get(name="Coordinators"),
        reason="The merger documents were posted publicly",
    )
    client = api(outsider)
    assert client.get(f"/api/v1/incidents/{secret.pk}/").status_code == 404
    detail = client.get(f"/api/v1/escalations/{escalation.pk}/")
    assert detail.status_code == 200
    assert "merger" not in detail.content.decode()
    assert detail.json()["reason"] == f"See {secret.reference}."
    # The history is the incident's evidence: out of their sight, in JSON and as CSV.
    assert client.get(f"/api/v1/escalations/{escalation.pk}/history/").status_code == 404
    history_csv = f"/api/v1/escalations/{escalation.pk}/history/?format=csv"
    assert client.get(history_csv).status_code == 404
    # Acknowledging is theirs to do.
    assert client.post(f"/api/v1/escalations/{escalation.pk}/acknowledge/").status_code == 200
    # The team reads the reason and the history.
    assert api(coordinator).get(f"/api/v1/escalations/{escalation.pk}/").json()["reason"] == (
        "The merger documents were posted publicly"
    )
    assert api(coordinator).get(f"/api/v1/escalations/{escalation.pk}/history/").status_code == 200

"""History pages an auditor can read (issue 12 item 9): every change in words, the incident's
whole story on its page, and one rule for anonymous reporters in the admin and the API."""

import html
import re

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.text import capfirst

from core.roles import COMPLIANCE
from incidents import services
from tests import factories
from tests.incidents import factories as f

pytestmark = pytest.mark.django_db


def history_url(obj):
    opts = obj._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_history", args=[obj.pk])


def page_of(client, obj):
    response = client.get(history_url(obj))
    assert response.status_code == 200
    return response.content.decode()


def _text(fragment):
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def changes(page):
    """The lines of the Changes column, as a reader sees them ("Status: Reported → Triaged")."""
    return [_text(item) for item in re.findall(r"<li>(.*?)</li>", page, re.S) if "<strong>" in item]


def rows(page):
    """Each row of the history table as a list of its cells' text."""
    body = page.split('id="change-history"', 1)[1].split("</table>", 1)[0]
    return [
        [_text(cell) for cell in re.findall(r"<td>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
        if "<td>" in row
    ]


def row_fields(page):
    """For each row, the names of the fields its Changes column lists."""
    body = page.split('id="change-history"', 1)[1].split("</table>", 1)[0]
    return [
        {_text(name).rstrip(":") for name in re.findall(r"<li><strong>(.*?)</strong>", row, re.S)}
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
        if "<td>" in row
    ]


def named(username, first, last, make=factories.coordinator):
    return make(username=username, first_name=first, last_name=last)


@pytest.fixture
def ann(db):
    return named("ann", "Ann", "Manager")


def test_a_phase_change_shows_in_the_changes_column(client, coordinator):
    incident = f.incident()
    f.walk(incident, coordinator, "triaged")
    client.force_login(coordinator)
    assert "Status: Reported → Triaged" in changes(page_of(client, incident))


def test_choices_show_by_their_labels(client, coordinator):
    incident = f.incident(impact=2, urgency=3)
    services.incident_update(incident=incident, actor=coordinator, impact=1, urgency=2)
    client.force_login(coordinator)
    lines = changes(page_of(client, incident))
    assert "Impact: 2 · significant / large → 1 · extensive / widespread" in lines
    assert "Urgency: 3 · medium → 2 · high" in lines
    assert "Priority: P2 · high → P1 · critical" in lines


def test_people_by_full_name_and_none_for_empty(client, ann, compliance_user):
    incident = f.incident()
    bea = named("bea", "Bea", "Boss")
    services.incident_update(incident=incident, actor=bea, incident_manager=ann)
    services.incident_update(incident=incident, actor=bea, incident_manager=None)
    client.force_login(compliance_user)
    page = page_of(client, incident)
    lines = changes(page)
    assert "Incident manager: none → Ann Manager" in lines
    assert "Incident manager: Ann Manager → none" in lines
    assert "Deleted user" not in page and "pk=None" not in page
    assert [r[3] for r in rows(page)][:2] == ["Bea Boss", "Bea Boss"]  # Changed by


def test_a_person_without_a_name_shows_by_username(client, compliance_user):
    incident = f.incident()
    nameless = factories.coordinator(username="nameless", first_name="", last_name="")
    services.incident_update(incident=incident, actor=nameless, incident_manager=nameless)
    client.force_login(compliance_user)
    page = page_of(client, incident)
    assert "Incident manager: none → nameless" in changes(page)
    assert rows(page)[0][3] == "nameless"


def _story(incident, actor, member):
    """One change of each kind of record that belongs to an incident."""
    services.team_member_add(incident=incident, actor=actor, user=member)
    action = services.action_create(
        incident=incident, actor=actor, kind="corrective", description="Rotate the keys"
    )
    services.action_update(action=action, actor=actor, owner=member)
    services.incident_escalate(
        incident=incident, actor=actor, level="2", reason="Needs a manager", to_user=member
    )
    services.communication_send(
        incident=incident, actor=actor, subject="Status update", body="b", audience="a@example.org"
    )
    services.review_save(incident=incident, actor=actor, summary="Learned", participants=[member])
    return action


def test_the_incidents_page_tells_the_whole_story(client, coordinator, superuser, ann):
    incident = f.incident(title="Leak")
    _story(incident, coordinator, ann)
    member = incident.team.get()
    member_id = member.pk
    services.team_member_remove(member=member, actor=superuser)
    client.force_login(coordinator)
    page = page_of(client, incident)
    records = [r[1] for r in rows(page)]
    lines = changes(page)
    assert records[-1] == str(incident)  # the report, oldest
    assert f"Team member #{member_id} (removed)" in records
    assert "Action: Corrective: Rotate the keys" in records
    assert any(r.startswith("Escalation: ") for r in records)
    assert "Communication: Status update" in records
    assert f"Post-incident review: Review of {incident.reference}" in records
    assert "Owner: none → Ann Manager" in lines  # the action's change, on the incident's page
    assert "User: Ann Manager" in lines  # the team member added
    assert "Participants: none → Ann Manager" in lines  # the review's many-to-many
    assert rows(page)[0][2] == "deleted"  # the member removed, newest
    # The children's rows link to their own version pages.
    action = incident.actions.get()
    assert reverse("admin:incidents_action_history", args=[action.pk]) in page


def test_children_stay_hidden_from_those_who_may_not_see_them(client, superuser, ann):
    secret = f.incident(confidential=True, title="Secret matter")
    _story(secret, superuser, ann)  # ann is now on the team
    outsider = factories.coordinator(username="outsider")
    client.force_login(outsider)
    assert client.get(history_url(secret)).status_code == 404
    # Who may read the incident's history but not its communications reads no communication.
    reader = factories.UserFactory(username="reader", is_staff=True)
    reader.user_permissions.set(
        Permission.objects.filter(
            codename__in=["view_incident", "view_action", "view_history", "see_all_confidential"]
        )
    )
    client.force_login(reader)
    records = [r[1] for r in rows(page_of(client, secret))]
    assert any(r.startswith("Action: ") for r in records)
    assert not any(r.startswith(("Communication", "Team member", "Escalation", "Post-")) for r in records)
    assert "Status update" not in page_of(client, secret)


def test_anonymous_reporter_hidden_for_a_coordinator_shown_to_compliance(client, api, coordinator, compliance_user):
    reporter = named("rhea", "Rhea", "Porter", make=factories.staff)
    incident = f.incident(reporter, anonymous=True)
    services.incident_update(incident=incident, actor=coordinator, title="Edited title")
    api_url = f"/api/v1/incidents/{incident.pk}/history/"

    client.force_login(coordinator)
    page = page_of(client, incident)
    assert "Rhea" not in page and "rhea" not in page
    assert not any(line.startswith("Reporter:") for line in changes(page))
    assert rows(page)[-1][3] == "none"  # the report's author is withheld
    created = api(coordinator).get(api_url).json()["results"][-1]
    assert "reporter" not in created["changes"]
    assert created["history_user"] is None and created["history_user_name"] is None

    client.force_login(compliance_user)
    page = page_of(client, incident)
    assert "Reporter: Rhea Porter" in changes(page)
    assert rows(page)[-1][3] == "Rhea Porter"
    created = api(compliance_user).get(api_url).json()["results"][-1]
    assert created["changes"]["reporter"] == {"old": None, "new": reporter.pk}
    assert created["history_user"] == reporter.pk


def test_admin_and_api_list_the_same_changes(client, api, coordinator):
    incident = f.incident()
    f.walk(incident, coordinator, "triaged", "investigating")
    services.incident_update(incident=incident, actor=coordinator, impact=1)
    client.force_login(coordinator)
    shown = row_fields(page_of(client, incident))
    entries = api(coordinator).get(f"/api/v1/incidents/{incident.pk}/history/").json()["results"]
    expected = [
        {capfirst(incident._meta.get_field(name).verbose_name) for name in e["changes"] if name != "id"}
        for e in entries
    ]
    assert shown == expected
    assert {"Status", "Acknowledged at"} <= shown[-2]  # reported → triaged


def test_other_history_pages_speak_in_words_too(client, compliance_user, ann):
    incident = f.incident()
    action = services.action_create(incident=incident, actor=ann, kind="corrective", description="d")
    services.action_update(action=action, actor=ann, owner=ann, status="done")
    person = factories.staff(username="pat", first_name="Pat", last_name="Lee")
    person.groups.add(Group.objects.get(name=COMPLIANCE))
    client.force_login(compliance_user)
    lines = changes(page_of(client, action))
    assert "Owner: none → Ann Manager" in lines
    assert "Status: Open → Done" in lines
    assert "Groups: Staff → Compliance, Staff" in changes(page_of(client, person))


def _grow(incident, actor, member, n):
    _story(incident, actor, member)
    for i in range(n):
        services.incident_update(incident=incident, actor=actor, title=f"Title {i}")
        services.action_create(incident=incident, actor=actor, kind="corrective", description=f"a{i}")


def _queries(client, obj):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(history_url(obj))
    assert response.status_code == 200
    return len(captured), response.content.decode()


def test_the_history_page_costs_the_same_queries_at_two_sizes(client, coordinator):
    small, large = f.incident(title="Small"), f.incident(title="Large")
    _grow(small, coordinator, named("m1", "Mia", "One"), 2)
    _grow(large, coordinator, named("m2", "Max", "Two"), 20)
    client.force_login(coordinator)
    _queries(client, small)  # warm the caches (content types, permissions)
    (small_count, _), (large_count, page) = _queries(client, small), _queries(client, large)
    assert small_count == large_count
    assert "Action: Corrective: a19" in [r[1] for r in rows(page)]  # every row is there

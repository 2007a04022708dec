"""Confidential incidents exist only for their team, compliance and superusers; anonymous reporters stay hidden."""

import pytest

from incidents import services
from tests import factories
from tests.incidents import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def secret(coordinator):
    reporter = factories.staff(username="whistle")
    incident = f.incident(reporter, confidential=True, title="Secret matter")
    return incident, reporter


def test_confidential_is_404_outside_the_team_everywhere(api, secret):
    incident, _ = secret
    outsider = factories.coordinator(username="outsider")
    client = api(outsider)
    base = f"/api/v1/incidents/{incident.pk}"
    assert client.get(f"{base}/").status_code == 404
    assert client.get(f"{base}/history/").status_code == 404
    assert client.get(f"{base}/timeline/").status_code == 404
    assert client.get(f"{base}/escalations/").status_code == 404
    assert client.post(f"{base}/transition/", {"status": "triaged"}, format="json").status_code == 404
    assert client.get("/api/v1/incidents/").json()["count"] == 0
    assert client.get("/api/v1/metrics/incidents/").json()["incidents"] == 0


def test_team_members_manager_compliance_and_superusers_see_it(api, secret, coordinator, compliance_user, superuser):
    incident, reporter = secret
    member = factories.coordinator(username="member")
    manager = factories.coordinator(username="manager")
    services.team_member_add(incident=incident, actor=superuser, user=member)
    services.incident_update(incident=incident, actor=superuser, incident_manager=manager)
    for user in (member, manager, compliance_user, superuser, reporter):
        assert api(user).get(f"/api/v1/incidents/{incident.pk}/").status_code == 200, user.username


def test_staff_see_only_their_own_reports(api):
    mine_user = factories.staff(username="me")
    mine = f.incident(mine_user)
    f.incident(factories.staff(username="other"))
    results = api(mine_user).get("/api/v1/incidents/").json()["results"]
    assert [r["id"] for r in results] == [mine.pk]


def test_anonymous_reporter_hidden_from_coordinators_shown_to_compliance(api, coordinator, compliance_user):
    reporter = factories.staff(username="anon")
    incident = f.incident(reporter, anonymous=True)
    services.incident_update(incident=incident, actor=coordinator, title="Edited")
    assert api(coordinator).get(f"/api/v1/incidents/{incident.pk}/").json()["reporter"] is None
    assert api(coordinator).get("/api/v1/incidents/").json()["results"][0]["reporter"] is None
    assert api(compliance_user).get(f"/api/v1/incidents/{incident.pk}/").json()["reporter"] == reporter.pk


def test_anonymous_reporter_hidden_in_history(api, coordinator, compliance_user):
    reporter = factories.staff(username="anon")
    incident = f.incident(reporter, anonymous=True)
    services.incident_update(incident=incident, actor=coordinator, title="Edited")
    entries = api(coordinator).get(f"/api/v1/incidents/{incident.pk}/history/").json()["results"]
    created = entries[-1]
    assert created["history_user"] is None and created["history_user_name"] is None
    assert all("reporter" not in e["changes"] for e in entries)
    assert entries[0]["history_user"] == coordinator.pk
    audit = api(compliance_user).get(f"/api/v1/incidents/{incident.pk}/history/").json()["results"]
    assert audit[-1]["history_user"] == reporter.pk and audit[-1]["changes"]["reporter"]["new"] == reporter.pk


def test_anonymous_report_timeline_has_no_author(coordinator):
    reporter = factories.staff(username="anon")
    incident = f.incident(reporter, anonymous=True)
    entry = incident.timeline.get()
    assert entry.author is None and "anonymously" in entry.text
    assert entry.history.first().history_user is None

"""The incident lists' totals: exact for every reader, without counting every incident.

The tally (a one-row table kept by database triggers, incidents migration 0002) must follow
every write; the lists must show what counting the rows one by one would show.
"""

import pytest
from django.db import connection, transaction
from django.urls import reverse

from incidents import queries, services
from incidents.models import Incident
from tests import factories
from tests.incidents import factories as f

pytestmark = pytest.mark.django_db


def tally():
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT public_count, confidential_count FROM {queries.TALLY_TABLE}")
        return cursor.fetchone()


def counted():
    return (
        Incident.objects.filter(confidential=False).count(),
        Incident.objects.filter(confidential=True).count(),
    )


def test_the_tally_follows_reports_edits_deletes_and_bulk_writes(coordinator, superuser):
    assert tally() == counted() == (0, 0)
    public = f.incident(title="Public")
    secret = f.incident(title="Secret", confidential=True)
    assert tally() == counted() == (1, 1)

    # An edit that leaves `confidential` alone, then one that flips it, each way.
    services.incident_update(incident=public, actor=coordinator, title="Renamed")
    assert tally() == (1, 1)
    services.incident_update(incident=public, actor=coordinator, confidential=True)
    assert tally() == counted() == (0, 2)
    # (Superuser: an off-team coordinator may not see, so not edit, a confidential incident.)
    services.incident_update(incident=secret, actor=superuser, confidential=False)
    assert tally() == counted() == (1, 1)

    # Paths that bypass the services still keep it exact (the database keeps it).
    Incident.objects.bulk_create(
        [Incident(**_copy(Incident.objects.get(pk=public.pk), f"BULK-{i}")) for i in range(3)]
    )
    assert tally() == counted() == (1, 4)
    Incident.objects.filter(title="Renamed").delete()
    assert tally() == counted() == (1, 0)


def test_a_rolled_back_write_leaves_the_tally_alone():
    f.incident()
    with pytest.raises(RuntimeError), transaction.atomic():
        f.incident(confidential=True)
        assert tally() == (1, 1)  # the writer sees its own change
        raise RuntimeError
    assert tally() == counted() == (1, 0)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="TRUNCATE is PostgreSQL's")
def test_truncate_zeroes_the_tally():
    f.incident()
    f.incident(confidential=True)
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the test's transaction has pending checks
        cursor.execute("TRUNCATE incidents_incident CASCADE")
    assert tally() == (0, 0)


def _copy(incident, reference):
    values = {
        field.attname: getattr(incident, field.attname)
        for field in Incident._meta.concrete_fields
        if field.attname != "id"
    }
    return {**values, "reference": reference}


@pytest.fixture
def world(coordinator):
    """Incidents of every visibility for `coordinator`, and a staff reporter."""
    reporter = factories.staff(username="rep")
    other = factories.coordinator(username="other")
    for i in range(3):
        f.incident(reporter, title=f"Open {i}")
    f.incident(reporter, title="Secret, not mine", confidential=True)
    # Only compliance and superusers see a confidential report before it has a team.
    admin = factories.UserFactory(username="admin", is_staff=True, is_superuser=True)
    managed = f.incident(title="Secret, I manage", confidential=True)
    services.incident_update(incident=managed, actor=admin, incident_manager=coordinator)
    teamed = f.incident(title="Secret, on my team", confidential=True)
    services.team_member_add(incident=teamed, actor=admin, user=coordinator)
    f.incident(coordinator, title="Secret, I reported", confidential=True)
    closed = f.incident(reporter, title="Closed one", impact=4, urgency=4)
    services.incident_transition(incident=closed, actor=other, status="cancelled", reason="dup")
    return reporter


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?page_size=2",
        "?ordering=priority",
        "?status=cancelled",
        "?confidential=true",
        "?search=Secret",
    ],
)
def test_the_api_list_total_is_what_the_reader_may_see(
    api, world, coordinator, compliance_user, query
):
    for user in (coordinator, compliance_user, world, factories.coordinator(username="outsider")):
        expected = queries.visible_incidents(user)
        if query == "?status=cancelled":
            expected = expected.filter(status="cancelled")
        elif query == "?confidential=true":
            expected = expected.filter(confidential=True)
        elif query == "?search=Secret":
            expected = expected.filter(title__contains="Secret")
        body = api(user).get(f"/api/v1/incidents/{query}").json()
        assert body["count"] == expected.count(), (user.username, query)
    # The coordinator sees the public ones and the three confidential ones they are part of.
    assert api(coordinator).get("/api/v1/incidents/").json()["count"] == 7
    assert api(compliance_user).get("/api/v1/incidents/").json()["count"] == 8
    assert api(world).get("/api/v1/incidents/").json()["count"] == 5


def test_the_admin_changelist_total_is_what_the_coordinator_may_see(client, world, coordinator):
    client.force_login(coordinator)
    # The admin is the team's workspace: the coordinator's own confidential report, outside
    # its team, is not in it (they read it as its reporter, in the API and the portal).
    page = client.get(reverse("admin:incidents_incident_changelist"))
    assert page.context["cl"].result_count == 6
    narrowed = client.get(reverse("admin:incidents_incident_changelist"), {"q": "Secret"})
    assert narrowed.context["cl"].result_count == 2



def test_replace_into_keeps_the_tally_exact_on_sqlite(sqlite_only):
    # REPLACE deletes the row it collides with; our connections turn on recursive_triggers
    # so that delete fires the tally's DELETE trigger (core.apps).
    incident = f.incident(title="Replaced")
    with connection.cursor() as cursor:
        cursor.execute(
            "REPLACE INTO incidents_incident SELECT * FROM incidents_incident WHERE id = %s",
            [incident.pk],
        )
    assert tally() == counted() == (1, 0)

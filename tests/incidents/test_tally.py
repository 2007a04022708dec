"""The incident lists' totals: exact for every reader, without counting every incident.

The tally (a one-row table kept by database triggers, incidents migration 0002) must follow
every write; the lists must show what counting the rows one by one would show.
"""

import pytest
from django.db import connection, transaction
from django.urls import reverse

from core.people import people_visible_to
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
def test_truncate_zeroes_the_tally(coordinator):
    managed = f.incident()
    services.incident_update(incident=managed, actor=coordinator, incident_manager=coordinator)
    f.incident(confidential=True)
    assert manager_tally() == [(coordinator.pk, 1)]
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the test's transaction has pending checks
        cursor.execute("TRUNCATE incidents_incident CASCADE")
    assert tally() == (0, 0)
    assert manager_tally() == []


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


# -- the manager tally (incidents migration 0015): the incident manager filter's people ----


def manager_tally():
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT manager_id, public_count FROM {queries.MANAGER_TALLY_TABLE} "
            "WHERE public_count <> 0 ORDER BY manager_id"
        )
        return cursor.fetchall()


def managers_counted():
    rows = (
        Incident.objects.filter(confidential=False, incident_manager__isnull=False)
        .values_list("incident_manager_id")
        .order_by("incident_manager_id")
    )
    counts = {}
    for (manager,) in rows:
        counts[manager] = counts.get(manager, 0) + 1
    return sorted(counts.items())


def test_the_manager_tally_follows_every_write(coordinator, superuser):
    other = factories.coordinator(username="other")
    public = f.incident(title="Public")
    assert manager_tally() == managers_counted() == []
    services.incident_update(incident=public, actor=coordinator, incident_manager=coordinator)
    assert manager_tally() == managers_counted() == [(coordinator.pk, 1)]
    services.incident_update(incident=public, actor=coordinator, title="Renamed")
    services.incident_update(incident=public, actor=coordinator, incident_manager=other)
    assert manager_tally() == managers_counted() == [(other.pk, 1)]
    services.incident_update(incident=public, actor=superuser, confidential=True)
    assert manager_tally() == managers_counted() == []
    services.incident_update(incident=public, actor=superuser, confidential=False)
    secret = f.incident(title="Secret", confidential=True)
    services.incident_update(incident=secret, actor=superuser, incident_manager=coordinator)
    assert manager_tally() == managers_counted() == [(other.pk, 1)]

    # Paths that bypass the services (bulk writes, deletes) keep it exact too.
    Incident.objects.bulk_create(
        [Incident(**_copy(Incident.objects.get(pk=public.pk), f"BULK-{i}")) for i in range(3)]
    )
    assert manager_tally() == managers_counted() == [(other.pk, 4)]
    Incident.objects.filter(reference__startswith="BULK-").update(incident_manager=coordinator)
    assert manager_tally() == managers_counted() == [(coordinator.pk, 3), (other.pk, 1)]
    Incident.objects.filter(reference="BULK-0").delete()
    Incident.objects.filter(reference="BULK-1").update(incident_manager=None)
    assert manager_tally() == managers_counted() == [(coordinator.pk, 1), (other.pk, 1)]


def test_the_manager_filter_offers_exactly_the_managers_of_what_the_reader_sees(
    client, coordinator, compliance_user, superuser
):
    lead = factories.coordinator(username="lead", first_name="Lee", last_name="Lead")
    hidden = factories.coordinator(username="hidden", first_name="Hal", last_name="Hidden")
    public = f.incident(title="Public")
    services.incident_update(incident=public, actor=lead, incident_manager=lead)
    secret = f.incident(title="Secret", confidential=True)
    services.incident_update(incident=secret, actor=superuser, incident_manager=hidden)
    mine = f.incident(title="Mine", confidential=True)
    services.incident_update(incident=mine, actor=superuser, incident_manager=coordinator)
    outsider = factories.coordinator(username="outsider")
    for user in (coordinator, compliance_user, outsider, superuser, factories.staff()):
        naive = set(
            queries.fully_visible_incidents(user)
            .exclude(incident_manager=None)
            .values_list("incident_manager_id", flat=True)
        )
        offered = set(queries.incident_managers(user).values_list("pk", flat=True))
        assert offered == naive & set(people_visible_to(user).values_list("pk", flat=True))
    assert {u.username for u in queries.incident_managers(outsider)} == {"lead"}
    client.force_login(outsider)
    page = client.get(reverse("admin:incidents_incident_changelist")).content.decode()
    assert "Lee Lead" in page and "Hal Hidden" not in page  # by name, and only what they see

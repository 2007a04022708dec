"""Responder readiness: when someone joins the team or becomes the manager, the system
records whether they had signed the plan in force and were current on its training."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents import queries, services
from incidents.models import Incident, Readiness
from plans import services as plan_services
from tests import factories
from tests.incidents import factories as f
from tests.plans.factories import published_plan
from tests.signing import signer_proof
from tests.training import factories as tf

pytestmark = pytest.mark.django_db


@pytest.fixture
def plan(approver):
    plan, version, _, _ = published_plan(approver=approver, code="IRP-RD")
    course = tf.make_course(title="Breach drill", plan=plan, validity_days=365)
    return {"plan": plan, "version": version, "course": course}


@pytest.fixture
def case(coordinator, plan):
    f.targets()
    return f.incident(category=f.category("Privacy", plan=plan["plan"]))


def _sign(user, version):
    plan_services.acknowledgement_create(
        version=version, actor=user, full_name=user.get_full_name(), content_hash=version.content_hash,
        proof=signer_proof(user),
    )


def test_a_member_who_signed_and_trained_is_ready(coordinator, plan, case):
    person = factories.staff(username="ready", first_name="Rea", last_name="Dy")
    _sign(person, plan["version"])
    tf.complete(person, plan["course"], timezone.now() - datetime.timedelta(days=10))
    services.team_member_add(incident=case, actor=coordinator, user=person, role="responder")
    row = Readiness.objects.get(incident=case, user=person)
    assert row.state == Readiness.State.READY and row.part == Readiness.Part.TEAM_MEMBER
    assert row.plan_version == plan["version"] and row.acknowledged_at is not None
    assert row.courses_required == [{"id": plan["course"].pk, "title": "Breach drill"}]
    assert row.courses_missing == []
    assert row.history.get().history_user == coordinator


def test_a_member_who_had_not_signed_nor_trained_is_not_ready_and_the_record_is_a_snapshot(
    coordinator, plan, case
):
    person = factories.staff(username="late")
    tf.complete(person, plan["course"], timezone.now() - datetime.timedelta(days=400))  # lapsed
    services.team_member_add(incident=case, actor=coordinator, user=person, role="scribe")
    row = Readiness.objects.get(incident=case, user=person)
    assert row.state == Readiness.State.NOT_READY and row.acknowledged_at is None
    assert [c["title"] for c in row.courses_missing] == ["Breach drill"]
    assert queries.readiness_words(row.state, row.acknowledged_at, row.courses_missing) == (
        "Not ready: plan not acknowledged; overdue on Breach drill"
    )
    _sign(person, plan["version"])  # signing afterwards does not rewrite what was true
    row.refresh_from_db()
    assert row.state == Readiness.State.NOT_READY
    # Joining again in the same role records nothing new; a new role is a new part taken.
    services.team_member_add(incident=case, actor=coordinator, user=person, role="scribe")
    assert Readiness.objects.filter(incident=case, user=person).count() == 1
    services.team_member_add(incident=case, actor=coordinator, user=person, role="technical_lead")
    assert Readiness.objects.filter(incident=case, user=person).count() == 2


def test_the_manager_is_checked_when_named_and_an_incident_without_a_plan_says_so(coordinator, superuser):
    f.targets()
    manager = factories.coordinator(username="mgr")
    bare = f.incident(category=f.category("Facilities"))
    services.incident_update(incident=bare, actor=superuser, incident_manager=manager)
    row = Readiness.objects.get(incident=bare, user=manager)
    assert row.part == Readiness.Part.INCIDENT_MANAGER and row.state == Readiness.State.NO_PLAN
    services.incident_update(incident=bare, actor=superuser, title="Renamed")  # manager unchanged
    assert Readiness.objects.filter(incident=bare).count() == 1


def test_fully_ready_counts_incidents_whose_every_responder_was_ready(coordinator, plan, case):
    ready = factories.staff(username="r1")
    _sign(ready, plan["version"])
    tf.complete(ready, plan["course"], timezone.now() - datetime.timedelta(days=1))
    services.team_member_add(incident=case, actor=coordinator, user=ready)
    assert list(queries.fully_ready(Incident.objects.all())) == [case]
    services.team_member_add(incident=case, actor=coordinator, user=factories.staff(username="r2"))
    assert list(queries.fully_ready(Incident.objects.all())) == []


def test_the_team_and_the_review_show_readiness_over_the_api_in_a_fixed_number_of_queries(
    api, coordinator, plan, case
):
    client = api(coordinator)
    services.incident_update(incident=case, actor=coordinator, incident_manager=coordinator)

    def team():
        with CaptureQueriesContext(connection) as q:
            rows = client.get(f"/api/v1/incidents/{case.pk}/team/").json()["results"]
        return rows, len(q)

    services.team_member_add(incident=case, actor=coordinator, user=factories.staff(username="a0"))
    team()
    rows, before = team()
    assert rows[0]["readiness"]["state"] == "not_ready"
    assert rows[0]["readiness"]["words"].startswith("Not ready: plan not acknowledged")
    for n in range(1, 8):
        services.team_member_add(incident=case, actor=coordinator, user=factories.staff(username=f"a{n}"))
    rows, after = team()
    assert len(rows) == 8 and after == before

    services.review_save(incident=case, actor=coordinator, summary="s")
    review = client.get(f"/api/v1/incidents/{case.pk}/review/").json()
    parts = {(r["full_name"], r["part"]) for r in review["team_readiness"]}
    assert (coordinator.get_full_name(), "incident_manager") in parts
    assert len(review["team_readiness"]) == 9


def test_the_team_inline_shows_readiness_when_joined(client, coordinator, plan, case):
    person = factories.staff(username="inline", first_name="In", last_name="Line")
    services.team_member_add(incident=case, actor=coordinator, user=person)
    client.force_login(coordinator)
    page = client.get(f"/admin/incidents/incident/{case.pk}/change/").content.decode()
    assert "readiness when joined" in page.lower()
    assert "Not ready: plan not acknowledged; never on Breach drill" in page


def test_the_metrics_count_incidents_handled_by_a_fully_ready_team(api, client, coordinator, plan, case):
    ready = factories.staff(username="r1")
    _sign(ready, plan["version"])
    tf.complete(ready, plan["course"], timezone.now() - datetime.timedelta(days=1))
    services.team_member_add(incident=case, actor=coordinator, user=ready)
    other = f.incident(category=f.category("Privacy", plan=plan["plan"]))
    services.team_member_add(incident=other, actor=coordinator, user=factories.staff(username="r2"))
    figures = api(coordinator).get("/api/v1/metrics/incidents/").json()
    assert figures["readiness"] == {"recorded": 2, "fully_ready": 1, "fully_ready_percent": 50.0}
    client.force_login(coordinator)
    listed = client.get("/admin/incidents/incident/?readiness=ready").context["cl"].result_count
    assert listed == 1
    listed = client.get("/admin/incidents/incident/?readiness=not_ready").context["cl"].result_count
    assert listed == 1

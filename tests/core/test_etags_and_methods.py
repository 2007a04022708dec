"""ETags follow the stored record, not the clock; methods an endpoint lacks answer 405 to all."""

import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.test import APIClient

from core.api import HistoryMixin
from incidents import services as incident_services
from incidents.api.urls import router as incidents_router
from plans import services as plan_services
from plans.api.urls import router as plans_router
from tests import factories
from tests.incidents.factories import incident as make_incident
from tests.incidents.factories import targets
from tests.plans.factories import published_plan
from tests.signing import signer_proof
from tests.training.factories import complete, make_course, make_session
from training import services as training_services
from training.api.urls import router as training_router

pytestmark = pytest.mark.django_db


def api_as(user=None):
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def p1_incident(db):
    targets()
    # impact 1 and urgency 1: P1, acknowledged within 15 minutes.
    return make_incident(factories.staff(username="rep"), impact=1, urgency=1)


def test_an_incident_etag_does_not_change_as_its_targets_fall_due(
    p1_incident, coordinator, monkeypatch
):
    client = api_as(coordinator)
    url = f"/api/v1/incidents/{p1_incident.pk}/"
    first = client.get(url)
    later = timezone.now() + datetime.timedelta(minutes=20)
    monkeypatch.setattr(timezone, "now", lambda: later)
    second = client.get(url)
    assert first.json()["targets"] != second.json()["targets"]  # the clock moved the states
    assert second["ETag"] == first["ETag"]
    # An edit sent with the ETag read before the targets fell due is no false 412.
    response = client.patch(url, {"title": "Renamed"}, format="json", HTTP_IF_MATCH=first["ETag"])
    assert response.status_code == 200
    assert response["ETag"] != first["ETag"]
    assert response["ETag"] == client.get(url)["ETag"]


def test_an_etag_changes_on_an_edit_and_the_old_one_is_refused(p1_incident, coordinator):
    client = api_as(coordinator)
    url = f"/api/v1/incidents/{p1_incident.pk}/"
    etag = client.get(url)["ETag"]
    incident_services.incident_update(incident=p1_incident, actor=coordinator, title="Other")
    assert client.get(url)["ETag"] != etag
    response = client.patch(url, {"title": "Mine"}, format="json", HTTP_IF_MATCH=etag)
    assert response.status_code == 412
    p1_incident.refresh_from_db()
    assert p1_incident.title == "Other"


def test_a_change_of_links_alone_changes_the_etag(coordinator):
    course = make_course()
    client = api_as(coordinator)
    url = f"/api/v1/training/courses/{course.pk}/"
    etag = client.get(url)["ETag"]
    factories.coordinator(username="c2")  # makes the Coordinators group exist
    response = client.patch(url, {"required_for": ["Coordinators"]}, format="json")
    assert response.status_code == 200
    assert response["ETag"] != etag
    stale = client.patch(url, {"required_for": ["Staff"]}, format="json", HTTP_IF_MATCH=etag)
    assert stale.status_code == 412


@pytest.fixture
def one_of_each(db, coordinator):
    plan, version, author, _ = published_plan()
    member = factories.staff(username="reader")
    acknowledgement, _ = plan_services.acknowledgement_create(
        version=version,
        actor=member,
        proof=signer_proof(member),
        full_name=member.get_full_name(),
        content_hash=version.content_hash,
    )
    targets()
    incident = make_incident(member)
    action = incident_services.action_create(
        incident=incident, actor=coordinator, kind="corrective", description="Fix"
    )
    course = make_course()
    record = complete(member, course, timezone.now() - datetime.timedelta(days=1))
    change_request = plan_services.change_request_create(
        plan=plan, actor=coordinator, summary="More", source="drill"
    )
    escalation = incident_services.incident_escalate(
        incident=incident, actor=coordinator, level="2", to_user=coordinator, reason="x"
    )
    attachment = incident_services.attachment_add(
        incident=incident,
        actor=coordinator,
        upload=SimpleUploadedFile("log.txt", b"gateway log\n", content_type="text/plain"),
    )
    exercise = make_session(make_course(title="Drill", kind="drill"))
    evaluation = training_services.evaluation_save(session=exercise, actor=coordinator)
    return {
        "escalations": escalation,
        "training/evaluations": evaluation,
        "incidents": incident,
        "actions": action,
        "attachments": attachment,
        "categories": incident.category,
        "plans": plan,
        "plan-versions": version,
        "acknowledgements": acknowledgement,
        "plan-change-requests": change_request,
        "training/courses": course,
        "training/sessions": record.session,
        "training/records": record,
    }


def test_writes_on_any_history_endpoint_answer_405_to_everyone(one_of_each, coordinator):
    users = [
        coordinator,
        factories.staff(username="plain"),
        factories.compliance(username="audit"),
        factories.approver(username="appr"),
    ]
    answers = {}
    for router in (incidents_router, plans_router, training_router):
        for prefix, viewset, _ in router.registry:
            assert issubclass(viewset, HistoryMixin), prefix
            path = f"/api/v1/{prefix}/{one_of_each[prefix].pk}/history/"
            for user in users:
                client = api_as(user)
                for method in ("delete", "put", "patch", "post"):
                    answers[(path, user.username, method)] = getattr(client, method)(
                        path
                    ).status_code
    # Every registered route was tried, and every route the fixture names is registered.
    assert {path for path, _, _ in answers} == {
        f"/api/v1/{prefix}/{row.pk}/history/" for prefix, row in one_of_each.items()
    }
    assert len(answers) == len(one_of_each) * 4 * 4
    assert {key: code for key, code in answers.items() if code != 405} == {}

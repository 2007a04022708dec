"""Incident rules: derived priority, late reports, references, targets, communications, reviews, plans in use."""

import datetime

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from core.errors import InvalidInput
from incidents import queries, services
from incidents.models import PRIORITY_MATRIX, Incident, MessageTemplate
from plans.models import PlanChangeRequest
from tests import factories
from tests.incidents import factories as f
from tests.plans.factories import published_plan

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("impact", "urgency"), list(PRIORITY_MATRIX))
def test_priority_is_derived_from_impact_and_urgency(impact, urgency):
    incident = f.incident(impact=impact, urgency=urgency)
    assert incident.priority == PRIORITY_MATRIX[(impact, urgency)]


def test_matrix_corners_match_the_contract():
    assert PRIORITY_MATRIX[(1, 1)] == "P1" and PRIORITY_MATRIX[(4, 4)] == "P4"


def test_a_typed_priority_is_overwritten_on_save():
    incident = f.incident(impact=4, urgency=4)
    incident.priority = "P1"
    incident.save()
    assert Incident.objects.get(pk=incident.pk).priority == "P4"


def test_changing_impact_re_derives_priority_and_notes_it(coordinator):
    incident = f.incident(impact=4, urgency=4)
    services.incident_update(incident=incident, actor=coordinator, impact=1, urgency=1)
    incident.refresh_from_db()
    assert incident.priority == "P1"
    assert incident.timeline.filter(text__contains="Priority changed from P4 to P1").exists()


@pytest.mark.parametrize(("hours", "late"), [(23, False), (25, True)])
def test_reports_after_the_window_are_late(hours, late):
    assert f.incident(occurred_hours_ago=hours).is_late is late


def test_late_window_is_a_setting(settings):
    settings.INCIDENT_LATE_REPORT_HOURS = 2
    assert f.incident(occurred_hours_ago=3).is_late is True


def test_references_are_sequential_per_year():
    first, second = f.incident(), f.incident()
    year = timezone.now().year
    assert first.reference == f"INC-{year}-0001" and second.reference == f"INC-{year}-0002"


def test_an_incident_cannot_occur_in_the_future(staff_user):
    with pytest.raises(ValidationError):
        services.incident_report(
            actor=staff_user,
            title="t",
            description="d",
            occurred_at=timezone.now() + datetime.timedelta(days=1),
            category=f.category(),
        )


def test_target_states_pending_at_risk_breached_and_met(coordinator, settings):
    f.targets()
    targets = queries.targets_by_priority()
    incident = f.incident(impact=1, urgency=1)  # P1: 15 minutes to acknowledge
    start = incident.reported_at
    at = lambda minutes: start + datetime.timedelta(minutes=minutes)  # noqa: E731
    assert queries.target_states(incident, targets, now=at(5)).acknowledge == "pending"
    assert queries.target_states(incident, targets, now=at(12)).acknowledge == "at_risk"
    assert queries.target_states(incident, targets, now=at(16)).acknowledge == "breached"
    incident = services.incident_transition(incident=incident, actor=coordinator, status="triaged")
    assert queries.target_states(incident, targets, now=at(60)).acknowledge == "met"


def test_breached_filter_finds_exactly_the_breached(coordinator):
    f.targets()
    old = f.incident(impact=1, urgency=1)
    fresh = f.incident(impact=1, urgency=1)
    later = timezone.now() + datetime.timedelta(minutes=20)
    breached = Incident.objects.filter(queries.breached_filter(now=later))
    assert set(breached) == {old, fresh}
    services.incident_transition(incident=fresh, actor=coordinator, status="triaged")
    assert set(Incident.objects.filter(queries.breached_filter(now=later))) == {old}


def test_communication_renders_a_template_emails_and_logs(coordinator, django_capture_on_commit_callbacks):
    incident = f.incident(title="Portal down")
    template = MessageTemplate.objects.create(
        name="Update", subject="[{priority}] {reference}", body="{title} is {status}."
    )
    with django_capture_on_commit_callbacks(execute=True):
        sent = services.communication_send(
            incident=incident, actor=coordinator, template=template, audience="a@example.org, b@example.org"
        )
    assert sent.subject == f"[P3] {incident.reference}" and sent.body == "Portal down is Reported."
    assert sorted(mail.outbox[0].to) == ["a@example.org", "b@example.org"]
    incident.refresh_from_db()
    assert incident.last_update_at == sent.sent_at
    assert incident.timeline.filter(kind="communication").exists()


def test_unknown_placeholders_are_refused():
    template = MessageTemplate(name="Bad", subject="{reference}", body="{secret_field}")
    with pytest.raises(ValidationError, match="secret_field"):
        template.full_clean()


def test_communication_needs_recipients(coordinator):
    with pytest.raises(InvalidInput):
        services.communication_send(incident=f.incident(), actor=coordinator, subject="s", body="b")


def test_incident_keeps_the_plan_version_in_force_when_reported():
    plan, version, author, approver = published_plan(code="IRP")
    category = f.category("Governed", plan=plan)
    incident = f.incident(category=category)
    assert incident.plan_version == version


def test_review_asking_for_a_plan_change_files_a_change_request(coordinator):
    plan, version, author, approver = published_plan(code="IRP")
    incident = f.incident(category=f.category("Governed", plan=plan))
    services.review_save(
        incident=incident,
        actor=coordinator,
        summary="s",
        root_cause="r",
        lessons_learned="l",
        plan_change_needed=True,
        plan_change_description="Add an out-of-hours escalation step.",
    )
    review = services.review_complete(incident=incident, actor=coordinator)
    request = PlanChangeRequest.objects.get(plan=plan)
    assert review.plan_change_request == request
    assert request.details == "Add an out-of-hours escalation step." and incident.reference in request.source


def test_a_completed_review_is_frozen(coordinator):
    incident = f.incident()
    f.completed_review(incident, coordinator)
    with pytest.raises(Exception, match="completed review"):
        services.review_save(incident=incident, actor=coordinator, summary="rewrite")


def test_escalation_emails_the_recipient_and_lands_on_the_timeline(coordinator, django_capture_on_commit_callbacks):
    boss = factories.UserFactory(username="boss", email="boss@example.org")
    incident = f.incident()
    with django_capture_on_commit_callbacks(execute=True):
        escalation = services.incident_escalate(
            incident=incident, actor=coordinator, level="3", to_user=boss, reason="Customers affected"
        )
    assert mail.outbox[0].to == ["boss@example.org"] and incident.reference in mail.outbox[0].subject
    assert incident.timeline.filter(kind="escalation", text__contains="Customers affected").exists()
    acknowledged = services.escalation_acknowledge(escalation=escalation, actor=boss)
    assert acknowledged.acknowledged_by == boss

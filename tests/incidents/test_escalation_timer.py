"""The automatic escalation timer: once per incident and rule, however often and wherever it runs."""

import datetime
import threading
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connections
from django.utils import timezone

from incidents import services
from incidents.models import Escalation, EscalationRule
from tests import factories
from tests.incidents import factories as f


def _overdue_p1(manager):
    f.targets()
    EscalationRule.objects.create(priority="P1", level="2", to_user=manager)
    incident = f.incident(impact=1, urgency=1)
    return incident


@pytest.mark.django_db
def test_the_timer_escalates_overdue_incidents_once_and_records_the_system_user(django_capture_on_commit_callbacks):
    manager = factories.coordinator(username="mgr", email="mgr@example.org")
    incident = _overdue_p1(manager)
    later = timezone.now() + datetime.timedelta(minutes=30)
    with django_capture_on_commit_callbacks(execute=True):
        first = services.escalate_overdue(actor=factories.UserFactory(username="system"), now=later)
    assert [e.incident_id for e in first] == [incident.pk]
    assert mail.outbox[0].to == ["mgr@example.org"]
    assert services.escalate_overdue(actor=manager, now=later) == []
    escalation = Escalation.objects.get()
    assert escalation.automatic and escalation.rule is not None
    assert escalation.history.first().history_user.username == "system"


@pytest.mark.django_db
def test_not_yet_overdue_or_acknowledged_incidents_are_left_alone(coordinator):
    manager = factories.coordinator(username="mgr")
    incident = _overdue_p1(manager)
    assert services.escalate_overdue(actor=manager, now=timezone.now()) == []
    services.incident_transition(incident=incident, actor=coordinator, status="triaged")
    later = timezone.now() + datetime.timedelta(minutes=30)
    assert services.escalate_overdue(actor=manager, now=later) == []


@pytest.mark.django_db
def test_the_command_takes_a_user_and_is_idempotent():
    manager = factories.coordinator(username="mgr")
    incident = _overdue_p1(manager)
    # Backdate the report through history-aware save so the target is breached now.
    incident.reported_at = timezone.now() - datetime.timedelta(hours=1)
    incident.save()
    out = StringIO()
    call_command("escalate_overdue_incidents", "--user", "mgr", stdout=out)
    assert "1 escalation(s) made." in out.getvalue()
    call_command("escalate_overdue_incidents", "--user", "mgr", stdout=out)
    assert "0 escalation(s) made." in out.getvalue()
    assert Escalation.objects.get().history.first().history_user == manager


@pytest.mark.django_db(transaction=True)
def test_two_timers_at_once_escalate_once(postgres_only):
    manager = factories.coordinator(username="mgr")
    _overdue_p1(manager)
    later = timezone.now() + datetime.timedelta(minutes=30)
    barrier = threading.Barrier(2)
    errors = []

    def run():
        try:
            barrier.wait()
            services.escalate_overdue(actor=manager, now=later)
        except Exception as exc:  # noqa: BLE001  (collected and asserted below)
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert Escalation.objects.count() == 1

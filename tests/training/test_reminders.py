"""send_training_reminders: due soon and overdue people, once per interval, safe to run twice."""

import datetime
import threading
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from core.services import audited_save
from tests import factories
from tests.training.factories import complete, make_course, people
from training.models import ReminderClock

NOW = timezone.now()


def run(*args):
    out = StringIO()
    call_command("send_training_reminders", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def states(db):
    course = make_course(title="Drill", validity_days=90)
    current, due, overdue, never = people(4)
    complete(current, course, NOW - datetime.timedelta(days=10))
    complete(due, course, NOW - datetime.timedelta(days=80))
    complete(overdue, course, NOW - datetime.timedelta(days=100))
    return current, due, overdue, never


@pytest.mark.django_db
def test_reminds_due_soon_and_overdue_people_once_per_interval(
    states, settings, django_capture_on_commit_callbacks
):
    current, due, overdue, never = states
    settings.TRAINING_REMINDER_INTERVAL_DAYS = 7
    # The email leaves once the reminder's transaction commits (the test's never does).
    with django_capture_on_commit_callbacks(execute=True):
        output = run()
    assert "sent: 2" in output
    assert sorted(m.to[0] for m in mail.outbox) == sorted([due.email, overdue.email])
    body = {m.to[0]: m.body for m in mail.outbox}
    assert "Drill: valid until" in body[due.email]
    assert "Drill: expired on" in body[overdue.email]
    # Running again (cron twice, a second machine) within the interval sends nothing.
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert "sent: 0" in run()
    assert mail.outbox == []
    # After the interval, they are reminded again.
    for clock in ReminderClock.objects.all():
        clock.last_sent_at = NOW - datetime.timedelta(days=8)
        audited_save(clock, actor=None)
    with django_capture_on_commit_callbacks(execute=True):
        run()
    assert len(mail.outbox) == 2


@pytest.mark.django_db
def test_reminder_history_records_the_actor(states):
    coordinator = factories.coordinator(username="cron-operator")
    run("--user", coordinator.username)
    clock = ReminderClock.objects.get(user=states[1])
    entry = clock.history.first()
    assert entry.history_user == coordinator
    assert entry.history_change_reason == "Reminder: training due"
    assert "Drill" in clock.last_courses


@pytest.mark.django_db
def test_without_user_the_system_user_acts(states):
    run()
    entry = ReminderClock.objects.get(user=states[2]).history.first()
    assert entry.history_user.username == "system"


@pytest.mark.django_db
def test_people_without_email_or_inactive_are_skipped(states):
    due, overdue = states[1], states[2]
    due.email = ""
    due.save()
    overdue.is_active = False
    overdue.save()
    assert "sent: 0" in run()


@pytest.mark.django_db(transaction=True)
def test_two_machines_at_once_remind_each_person_once(postgres_only, states):
    barrier = threading.Barrier(2)
    errors = []

    def worker():
        try:
            barrier.wait()
            run()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(m.to[0] for m in mail.outbox) == sorted([states[1].email, states[2].email])


@pytest.mark.django_db
def test_a_reminder_whose_transaction_rolls_back_emails_no_one(
    states, django_capture_on_commit_callbacks
):
    from django.db import transaction

    from core.models import OutgoingEmail
    from training import services

    due = states[1]
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            assert services.reminder_send(
                user=due, actor=None, email=due.email, subject="Due", body="b", lines=["Drill"]
            )
            raise RuntimeError("the caller's transaction fails after the reminder")
    assert mail.outbox == []
    assert not OutgoingEmail.objects.exists()
    assert not ReminderClock.objects.filter(user=due, last_sent_at__isnull=False).exists()

"""Publication emails and reminders: to the right people, with the link, never twice."""

import datetime
import threading
from unittest import mock

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connections, transaction

from core.models import OutgoingEmail
from plans import notices, services
from plans.models import AcknowledgementNotice, ReminderClock
from plans.tasks import send_publication_notices
from tests import factories
from tests.plans.factories import draft_of, fill, make_plan
from tests.signing import signer_proof

pytestmark = pytest.mark.django_db


def publish_with_emails(capture, plan, approver):
    version = fill(draft_of(plan), plan.owner)
    services.version_submit(version=version, actor=plan.owner, proof=signer_proof(plan.owner))
    services.version_approve(version=version, actor=approver, proof=signer_proof(approver))
    with capture(execute=True):
        services.version_publish(version=version, actor=approver, proof=signer_proof(approver))
    version.refresh_from_db()
    return version


def test_publishing_emails_the_audience_once_with_the_acknowledgement_link(
    settings, django_capture_on_commit_callbacks
):
    settings.SITE_URL = "https://ir.example.org"
    members = [factories.staff(username=f"m{i}") for i in range(3)]
    factories.UserFactory(username="outsider", groups=["Contractors"])
    approver = factories.approver(username="ap")
    plan = make_plan(code="MAIL", audience=("Staff",))
    version = publish_with_emails(django_capture_on_commit_callbacks, plan, approver)
    recipients = sorted(m.to[0] for m in mail.outbox)
    expected = sorted([m.email for m in members] + [plan.owner.email, approver.email])
    assert recipients == expected
    assert f"https://ir.example.org/plans/versions/{version.pk}/" in mail.outbox[0].body
    assert AcknowledgementNotice.objects.filter(version=version, kind="published").count() == 5
    # A retried or duplicated task sends nothing more.
    send_publication_notices.call(version.pk)
    assert len(mail.outbox) == 5


def test_no_email_when_the_publish_rolls_back(django_capture_on_commit_callbacks):
    from django.db import transaction

    approver = factories.approver(username="ap")
    plan = make_plan(code="RB")
    version = fill(draft_of(plan), plan.owner)
    services.version_submit(version=version, actor=plan.owner, proof=signer_proof(plan.owner))
    services.version_approve(version=version, actor=approver, proof=signer_proof(approver))
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                services.version_publish(
                    version=version, actor=approver, proof=signer_proof(approver)
                )
                raise RuntimeError("boom")
        except RuntimeError:
            pass
    assert mail.outbox == []


def test_reminders_go_to_outstanding_people_once_per_interval(
    settings, approver, django_capture_on_commit_callbacks
):
    settings.ACKNOWLEDGEMENT_REMINDER_INTERVAL_DAYS = 7
    plan = make_plan(code="REM")
    version = fill(draft_of(plan), plan.owner)
    services.version_submit(version=version, actor=plan.owner, proof=signer_proof(plan.owner))
    services.version_approve(version=version, actor=approver, proof=signer_proof(approver))
    services.version_publish(version=version, actor=approver, proof=signer_proof(approver))
    version.refresh_from_db()
    done = factories.staff(username="done", first_name="Dee", last_name="Done")
    owing = factories.staff(username="owing", first_name="Oh", last_name="Wing")
    services.acknowledgement_create(
        version=version,
        actor=done,
        proof=signer_proof(done),
        full_name="Dee Done",
        content_hash=version.content_hash,
    )
    # Each reminder is delivered once its transaction commits (the command's, in production).
    with django_capture_on_commit_callbacks(execute=True):
        call_command("send_acknowledgement_reminders", "--user", "appr")
    reminded = {m.to[0] for m in mail.outbox}
    assert owing.email in reminded and done.email not in reminded
    assert f"/plans/versions/{version.pk}/" in mail.outbox[0].body
    first_count = len(mail.outbox)
    with django_capture_on_commit_callbacks(execute=True):
        call_command("send_acknowledgement_reminders")
    assert len(mail.outbox) == first_count
    clock = ReminderClock.objects.get(user=owing)
    assert clock.history.first().history_user == approver
    assert AcknowledgementNotice.objects.filter(user=owing, kind="reminder").count() == 1
    # After the interval they are reminded again.
    later = clock.last_sent_at + datetime.timedelta(days=7, seconds=1)
    with mock.patch("django.utils.timezone.now", return_value=later):
        with django_capture_on_commit_callbacks(execute=True):
            call_command("send_acknowledgement_reminders")
    assert len(mail.outbox) == first_count + len(reminded)


def test_a_reminder_whose_transaction_rolls_back_sends_nothing(
    approver, django_capture_on_commit_callbacks
):
    plan = make_plan(code="RB")
    version = fill(draft_of(plan), plan.owner)
    services.version_submit(version=version, actor=plan.owner, proof=signer_proof(plan.owner))
    services.version_approve(version=version, actor=approver, proof=signer_proof(approver))
    services.version_publish(version=version, actor=approver, proof=signer_proof(approver))
    version.refresh_from_db()
    owing = factories.staff(username="rb-owing")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                assert notices.reminder_send(user=owing, actor=approver, versions=[version])
                raise RuntimeError("the run fails after the reminder was queued")
        except RuntimeError:
            pass
    assert mail.outbox == []
    assert all(owing.email not in email.recipients for email in OutgoingEmail.objects.all())
    assert not ReminderClock.objects.filter(user=owing).exists()


def test_reminder_command_rejects_an_unknown_user():
    from django.core.management import CommandError

    with pytest.raises(CommandError):
        call_command("send_acknowledgement_reminders", "--user", "nobody")


@pytest.mark.django_db(transaction=True)
def test_reminders_run_concurrently_send_one_email_per_person(postgres_only):
    approver = factories.approver(username="ap")
    plan = make_plan(code="CC")
    version = fill(draft_of(plan), plan.owner)
    services.version_submit(version=version, actor=plan.owner, proof=signer_proof(plan.owner))
    services.version_approve(version=version, actor=approver, proof=signer_proof(approver))
    services.version_publish(version=version, actor=approver, proof=signer_proof(approver))
    for i in range(20):
        factories.staff(username=f"cc{i}")
    barrier = threading.Barrier(3)
    errors = []

    def run():
        try:
            barrier.wait()
            call_command("send_acknowledgement_reminders")
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    recipients = [m.to[0] for m in mail.outbox if m.subject.startswith("Reminder")]
    assert len(recipients) == len(set(recipients)) == 22

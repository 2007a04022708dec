"""Notices of plans: the publication notice and the reminder, each recorded with its email.

The services of the notices (the tasks and the reminder command call them): each records
the notice and queues its email in the outbox (`core.mail.email_queue`) in one transaction,
so a notice is recorded exactly when its email is queued; delivery, and a retry when the
mail server refuses, are the outbox's (core.mail).
"""

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from core.history import stamp
from core.mail import email_queue
from core.reminders import claimed_clock
from core.services import audited_save

from .models import AcknowledgementNotice, ReminderClock


def acknowledge_url(version):
    return settings.SITE_URL + reverse("plans:version", args=[version.pk])


def greeting(user):
    return f"Hello {user.get_full_name() or user.get_username()},\n\n"


def publication_email(version, user):
    subject = f"Please acknowledge {version.plan.title} version {version.number}"
    body = (
        f"{greeting(user)}"
        f"Version {version.number} of {version.plan.title} ({version.plan.code}) has been "
        f"published. Please read it and acknowledge it by "
        f"{version.acknowledge_by:%d %B %Y}:\n\n{acknowledge_url(version)}\n\n"
        f"What changed: {version.change_summary or 'see the plan.'}\n"
    )
    return subject, body


def reminder_email(user, versions):
    lines = [
        f"- {v.plan.title} version {v.number} (due {v.acknowledge_by:%d %B %Y}): {acknowledge_url(v)}"
        for v in versions
    ]
    subject = "Reminder: plans waiting for your acknowledgement"
    body = greeting(user) + "You still have to read and acknowledge:\n\n" + "\n".join(lines) + "\n"
    return subject, body


def notice_record(*, user, version, actor):
    """Record the publication notice of `version` to `user` and queue its email, together.

    Returns True when queued. A notice already recorded (a retried or duplicated task) is
    skipped: the database's unique index decides, so nobody is told twice. The email leaves
    once the notice is committed; a refusal of the mail server is recorded on the outbox
    row and retried from there (the notice stays recorded).
    """
    notice = AcknowledgementNotice(
        user=user, version=version, kind=AcknowledgementNotice.Kind.PUBLISHED
    )
    stamp(notice, actor=actor, reason=notice.get_kind_display())
    subject, body = publication_email(version, user)
    try:
        with transaction.atomic():
            notice.save()
            email_queue(subject=subject, body=body, recipients=[user.email], about=notice)
    except IntegrityError:
        return False
    return True


def reminder_send(*, user, actor, versions, now=None):
    """Remind one person of `versions` unless reminded within the interval or another sender holds them.

    The per-person ReminderClock is claimed by `core.reminders.claimed_clock`; its time keeps
    later runs away for ACKNOWLEDGEMENT_REMINDER_INTERVAL_DAYS. The clock, the notices and the
    outbox row commit together and the delivery task is enqueued once they have (the one way
    email leaves, core.mail.email_queue): a failed delivery is retried by the outbox, never
    lost with a clock that says the person was reminded, and a rolled-back run sends nothing.
    """
    now = now or timezone.now()
    with claimed_clock(
        ReminderClock,
        user,
        interval_days=settings.ACKNOWLEDGEMENT_REMINDER_INTERVAL_DAYS,
        now=now,
    ) as clock:
        if clock is None:
            return False
        clock.last_sent_at = now
        audited_save(clock, actor=actor, reason="Acknowledgement reminder sent")
        for version in versions:
            notice = AcknowledgementNotice(
                user=user, version=version, kind=AcknowledgementNotice.Kind.REMINDER, sent_at=now
            )
            audited_save(notice, actor=actor, reason="Reminder")
        subject, body = reminder_email(user, versions)
        email_queue(subject=subject, body=body, recipients=[user.email])
    return True

"""Email: the one place that cleans headers, checks addresses, queues, delivers and retries.

Every email leaves through `send_message`, which collapses line breaks in the
subject (a CR/LF in an incident title would otherwise make Django refuse the
whole message with BadHeaderError). Services queue an email with
`email_queue` in their own transaction: an `OutgoingEmail` row, delivered by
the `deliver_email` task. `email_deliver` records the outcome on the row and
announces it (`email_delivered`), so an app can put a failure on the record
the email was about. django-tasks' backends do not retry a failed task, so a
failed row is retried by `resend_due` (`manage.py resend_failed_emails`, also
run by the escalation cron) with a growing delay, up to EMAIL_MAX_ATTEMPTS.
"""

import datetime
import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q
from django.dispatch import Signal
from django.utils import timezone

from core.errors import InvalidInput
from core.history import system_user
from core.models import OutgoingEmail
from core.services import audited_save

# Sent after each delivery attempt, with `email` (the OutgoingEmail, its status recorded).
email_delivered = Signal()

_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")
_SEPARATORS = re.compile(r"[,;\r\n]+")
# A row still queued (or "sending") this long after it was made (or claimed) lost its task
# or its worker: it is sent again.
STALE_QUEUED = datetime.timedelta(minutes=10)
STALE_SENDING = datetime.timedelta(minutes=10)


def header_value(text):
    """`text` on one line: line breaks and other control characters become single spaces."""
    return " ".join(_CONTROL.sub(" ", text or "").split())


def _shown(address):
    """The address as a message can show it: control characters visible as \\r, \\n, …"""
    return address.encode("unicode_escape").decode("ascii")


def parse_addresses(text, *, field="audience"):
    """The addresses typed in `text` (separated by commas, semicolons or lines), each checked.

    Raises InvalidInput naming the first address that is not one, so the API
    answers 400 and a form shows it on `field`.
    """
    addresses = []
    for part in _SEPARATORS.split(text or ""):
        address = part.strip()
        if not address:
            continue
        try:
            if _CONTROL.search(address):
                raise ValidationError("control character")
            validate_email(address)
        except ValidationError:
            raise InvalidInput(
                f"“{_shown(address)}” is not an email address.", field=field
            ) from None
        if address not in addresses:
            addresses.append(address)
    return addresses


def send_message(*, subject, body, recipients, html_body=None):
    """Send one email now to `recipients`; raises when the mail server refuses. Returns how many were sent."""
    recipients = [address for address in recipients if address]
    if not recipients:
        return 0
    return send_mail(
        header_value(subject),
        body,
        settings.DEFAULT_FROM_EMAIL,
        recipients,
        html_message=html_body,
        fail_silently=False,
    )


def email_queue(*, subject, body, recipients, about=None, on_commit=True):
    """Record an email to send about `about` and have a task deliver it; returns the row (None if nobody to tell).

    With `on_commit` (the default) the task is enqueued once the caller's
    transaction commits, so a rolled-back change emails no one; without it the
    task is enqueued at once (with the database backend it commits with the row).
    """
    from core.tasks import deliver_email

    recipients = sorted({address.strip() for address in recipients if address and address.strip()})
    if not recipients:
        return None
    email = OutgoingEmail(
        subject=header_value(subject)[:1000], body=body, recipients=recipients, about=about
    )
    email._change_reason = "Queued"  # the history user is whoever acts (request or command)
    email.save()
    email_id = email.pk

    def deliver():
        deliver_email.enqueue(email_id)

    if on_commit:
        transaction.on_commit(deliver)
    else:
        deliver()
    return email


def _retry_delay(attempts):
    return datetime.timedelta(minutes=2**attempts)


def _claim(email_id, now):
    """Mark the email as being sent by us, in a short transaction of its own; None if it is not ours to send."""
    with transaction.atomic():
        email = OutgoingEmail.objects.select_for_update().filter(pk=email_id).first()
        if email is None or email.status == OutgoingEmail.Status.SENT:
            return None
        if email.status == OutgoingEmail.Status.SENDING and email.next_attempt_at > now:
            return None  # another worker is sending it right now
        email.status = OutgoingEmail.Status.SENDING
        email.attempts += 1
        # If this process dies while sending, the row is picked up again after this.
        email.next_attempt_at = now + STALE_SENDING
        return audited_save(
            email, actor=system_user(), reason=f"Sending (attempt {email.attempts})"
        )


def email_deliver(email_id, *, now=None):
    """Send one queued or failed email and record how it went; returns the row.

    The row is claimed first (locked, marked "sending") and the outcome recorded
    after, each in a short transaction: no transaction stays open while the mail
    server answers, and a second worker finds the email taken and leaves it.
    """
    now = now or timezone.now()
    email = _claim(email_id, now)
    if email is None:
        return OutgoingEmail.objects.filter(pk=email_id).first()
    try:
        send_message(subject=email.subject, body=email.body, recipients=email.recipients)
    except Exception as exc:  # any refusal of the mail server or the message is recorded
        email.status = OutgoingEmail.Status.FAILED
        email.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        retry = email.attempts < settings.EMAIL_MAX_ATTEMPTS
        email.next_attempt_at = now + _retry_delay(email.attempts) if retry else None
        reason = f"Delivery failed (attempt {email.attempts})"
    else:
        email.status = OutgoingEmail.Status.SENT
        email.sent_at, email.next_attempt_at = now, None
        reason = f"Delivered (attempt {email.attempts})"
    with transaction.atomic():
        audited_save(email, actor=system_user(), reason=reason)
    email_delivered.send(sender=OutgoingEmail, email=email)
    return email


def emails_due(now=None):
    """Failed emails whose retry is due, and queued or "sending" ones whose task was lost."""
    now = now or timezone.now()
    return OutgoingEmail.objects.filter(
        Q(
            status__in=(OutgoingEmail.Status.FAILED, OutgoingEmail.Status.SENDING),
            next_attempt_at__lte=now,
        )
        | Q(status=OutgoingEmail.Status.QUEUED, created_at__lte=now - STALE_QUEUED)
    ).order_by("pk")


def resend_due(*, now=None, limit=500):
    """Try again every email due (see `emails_due`); returns the rows, their new status recorded."""
    ids = list(emails_due(now).values_list("pk", flat=True)[:limit])
    return [email_deliver(pk, now=now) for pk in ids]

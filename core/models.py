"""Core tables: history for users and group membership, each person's profile, the audit permissions, the email outbox."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from simple_history import register

from core.history import AuditedHistoricalRecords
from core.timezones import validate_time_zone


class Audit(models.Model):
    """Holds the cross-app audit permissions; it has no table."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("view_history", "Can read the audit history of any record"),
            ("export_history", "Can export the audit history"),
            # Held by Compliance: the admin offers no add, change or delete to its holders,
            # whatever other role they have (see core.roles.reads_only).
            ("read_only_everywhere", "Reads everything and changes nothing in the admin"),
            # Reset someone else's second factor (with a reason; core/second_factor.py).
            ("reset_second_factor", "Can reset another person's second factor"),
        ]

    def __str__(self):
        return "audit"


class Profile(models.Model):
    """What we keep of a person beyond Django's user: the time zone their pages and forms use."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    time_zone = models.CharField(
        max_length=64,
        blank=True,
        validators=[validate_time_zone],
        help_text="IANA name such as Europe/Berlin; empty for the site's default (TIME_ZONE).",
    )

    history = AuditedHistoricalRecords()

    def __str__(self):
        return f"{self.user}: {self.time_zone or settings.TIME_ZONE}"


# Who was added to which group (and so to which plan audience) is evidence too.
register(
    get_user_model(),
    app="core",
    records_class=AuditedHistoricalRecords,
    m2m_fields=["groups"],
    excluded_fields=["password", "last_login"],
)

# The second factor's devices (django-otp): enrolment, confirmation, each code used or
# wrong, and reset are history rows with the actor (core/second_factor.py).
for _otp_model in (TOTPDevice, StaticDevice, StaticToken):
    register(_otp_model, app="core", records_class=AuditedHistoricalRecords)


class OutgoingEmail(models.Model):
    """One email as queued and as delivered (or not): the outbox that makes a failed send visible.

    Services queue a row in their own transaction (`core.mail.email_queue`); a task
    delivers it and records the outcome here. A failed row is retried by
    `manage.py resend_failed_emails` (also run by the escalation cron) until
    EMAIL_MAX_ATTEMPTS. `about` names the record the email is about (a
    communication, an escalation), so the app can show its delivery.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    subject = models.CharField(max_length=1000)
    body = models.TextField()
    recipients = models.JSONField(default=list, help_text="The addresses, as a list.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    about_type = models.ForeignKey(
        ContentType, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    about_id = models.PositiveBigIntegerField(null=True, blank=True)
    about = GenericForeignKey("about_type", "about_id")

    history = AuditedHistoricalRecords()

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [
            models.Index(fields=["about_type", "about_id"], name="email_about_idx"),
            models.Index(fields=["status", "next_attempt_at"], name="email_retry_idx"),
        ]

    def __str__(self):
        return f"{self.subject} ({self.get_status_display().lower()})"

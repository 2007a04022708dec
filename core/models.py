"""Core tables: history for users and group membership, each person's profile, the audit permissions."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models
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

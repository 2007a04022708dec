"""Core tables: history for users and group membership, and the audit permissions."""

from django.contrib.auth import get_user_model
from django.db import models
from simple_history import register

from core.history import AuditedHistoricalRecords


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


# Who was added to which group (and so to which plan audience) is evidence too.
register(
    get_user_model(),
    app="core",
    records_class=AuditedHistoricalRecords,
    m2m_fields=["groups"],
    excluded_fields=["password", "last_login"],
)

"""Directory tables: the SCIM bearer tokens and what SCIM knows of a person or group beyond Django's rows."""

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.utils import timezone

from core.history import AuditedHistoricalRecords


class ScimToken(models.Model):
    """A bearer token a directory (Entra ID, Okta, …) provisions with. Only its hash is kept.

    Each token acts as its own service user (`scim:NAME`, inactive, no usable password), so
    every change made with it is in the history under that name.
    """

    name = models.CharField(max_length=100, unique=True)
    token_hash = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the token.")
    service_user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="scim_token"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    # Every request stamps last_used_at: that is no event worth a history row.
    history = AuditedHistoricalRecords(excluded_fields=["last_used_at"])

    class Meta:
        ordering = ("name",)

    def __str__(self):
        return self.name if self.revoked_at is None else f"{self.name} (revoked)"


class ProvisionedUser(models.Model):
    """A person as the directory knows them: its externalId, and whether it deleted them.

    A DELETE over SCIM never deletes the person (the history names them): it deactivates
    them and sets `deprovisioned_at`, after which SCIM answers 404 for them.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="provisioned"
    )
    external_id = models.CharField(max_length=255, blank=True)
    display_name = models.CharField(max_length=255, blank=True, help_text="SCIM displayName.")
    emails = models.JSONField(
        default=list,
        blank=True,
        help_text="The emails as the directory sent them ([{value, primary}]); the user's email "
        "is the primary one.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    deprovisioned_at = models.DateTimeField(null=True, blank=True)

    history = AuditedHistoricalRecords()

    def __str__(self):
        return f"{self.user} ({self.external_id or 'no externalId'})"


class ProvisionedGroup(models.Model):
    """A group as the directory knows it. A DELETE over SCIM empties the group and sets
    `deprovisioned_at`; the Django group stays, since plans and courses name it."""

    group = models.OneToOneField(Group, on_delete=models.PROTECT, related_name="provisioned")
    external_id = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    deprovisioned_at = models.DateTimeField(null=True, blank=True)

    history = AuditedHistoricalRecords()

    def __str__(self):
        return f"{self.group} ({self.external_id or 'no externalId'})"


class OidcIdentity(models.Model):
    """A person's identity at an OpenID provider: the issuer and the subject (`sub`) it gives
    them. Sign-ins match people by this pair, never by email or username, so a person the
    provider renames or gives a new email stays the same person here.

    `last_seen_at` moves at every sign-in and is outside the history (like Django's
    `last_login`); the link itself, who made it and why, is in the history.
    """

    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="oidc_identities"
    )
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)

    history = AuditedHistoricalRecords(excluded_fields=["last_seen_at"])

    class Meta:
        verbose_name = "OpenID identity"
        verbose_name_plural = "OpenID identities"
        ordering = ("issuer", "subject")
        constraints = [
            models.UniqueConstraint(fields=("issuer", "subject"), name="oidc_identity_unique"),
            # One identity per person at each provider: a second would be a second person.
            models.UniqueConstraint(fields=("issuer", "user"), name="oidc_identity_one_per_user"),
        ]

    def __str__(self):
        return f"{self.user} at {self.issuer}"

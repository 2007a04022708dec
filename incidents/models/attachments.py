"""Evidence files on an incident (optionally on one of its actions or its review), and who
downloaded each (its chain of custody). See docs/incidents.md §Attachments.

An attachment is never changed or deleted once attached; a wrong file is *superseded*: the
supersession fields are set once (by `services.attachment_supersede`), and both files stay.
The database keeps to that too (migration 0009: triggers on SQLite and PostgreSQL).
"""

from django.db import models
from django.db.models import F, Q

from core.history import AuditedHistoricalRecords
from core.model_fields import person_link

from .incident import Incident, now
from .response import Action, PostIncidentReview

# The columns fixed at upload (the database refuses any change to them: migration 0009).
FIXED_COLUMNS = (
    "id",
    "incident_id",
    "action_id",
    "review_id",
    "file_name",
    "content_type",
    "size",
    "sha256",
    "stored_name",
    "uploaded_by_id",
    "uploaded_at",
)
# Set once, together, when the file is superseded; never again after.
SUPERSESSION_COLUMNS = (
    "superseded_at",
    "superseded_reason",
    "superseded_by_id",
    "superseded_by_person_id",
)


class Attachment(models.Model):
    """One evidence file: what it was called, its SHA-256 and size taken on upload, who
    attached it and when; stored (`stored_name`) through the `attachments` storage."""

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="attachments")
    action = models.ForeignKey(
        Action,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="attachments",
        help_text="The incident's action this file belongs to, if any.",
    )
    review = models.ForeignKey(
        PostIncidentReview,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="attachments",
        help_text="The incident's post-incident review, if the file belongs to it.",
    )
    file_name = models.CharField(max_length=255, help_text="The file's name as uploaded.")
    content_type = models.CharField(
        max_length=100, help_text="Taken from the name's extension and checked on the content."
    )
    size = models.PositiveBigIntegerField(help_text="Bytes, counted on upload.")
    sha256 = models.CharField(max_length=64, help_text="SHA-256 of the content, on upload.")
    stored_name = models.CharField(max_length=255, editable=False)
    uploaded_by = person_link(related_name="+")
    uploaded_at = models.DateTimeField(default=now)
    superseded_at = models.DateTimeField(null=True, blank=True, editable=False)
    superseded_reason = models.TextField(blank=True, editable=False)
    superseded_by = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="supersedes",
        help_text="The file that replaces this one (none: withdrawn without a replacement).",
    )
    superseded_by_person = person_link(related_name="+", optional=True, editable=False)

    history = AuditedHistoricalRecords()

    class Meta:
        ordering = ("-uploaded_at", "-id")
        indexes = [
            models.Index(fields=["incident", "-uploaded_at", "-id"], name="attachment_incident_idx")
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(size__gt=0),
                name="attachment_not_empty",
                violation_error_message="An attachment cannot be empty.",
            ),
            models.CheckConstraint(
                condition=Q(action__isnull=True) | Q(review__isnull=True),
                name="attachment_one_parent",
                violation_error_message="Attach a file to an action or to the review, not both.",
            ),
            models.CheckConstraint(
                condition=Q(
                    superseded_at__isnull=True,
                    superseded_reason="",
                    superseded_by__isnull=True,
                    superseded_by_person__isnull=True,
                )
                | (
                    Q(superseded_at__isnull=False, superseded_by_person__isnull=False)
                    & ~Q(superseded_reason="")
                ),
                name="attachment_superseded_whole",
                violation_error_message="A superseded file records when, by whom and why.",
            ),
            models.CheckConstraint(
                condition=Q(superseded_by__isnull=True) | ~Q(superseded_by=F("id")),
                name="attachment_not_superseded_by_itself",
                violation_error_message="A file cannot supersede itself.",
            ),
        ]

    def __str__(self):
        return f"{self.file_name} ({self.sha256[:12]}…)"

    @property
    def is_superseded(self):
        return self.superseded_at is not None


class AttachmentDownload(models.Model):
    """One download of an attachment: who and when, and by which door. Written (and
    committed) before the file is streamed; never changed or deleted."""

    class Via(models.TextChoices):
        ADMIN = "admin", "Admin"
        API = "api", "API"
        # Copied into an evidence bundle (incidents/bundle.py): it left the system too.
        BUNDLE = "bundle", "Evidence bundle"

    attachment = models.ForeignKey(Attachment, on_delete=models.PROTECT, related_name="downloads")
    user = person_link(related_name="+")
    at = models.DateTimeField(default=now)
    via = models.CharField(max_length=10, choices=Via.choices)

    history = AuditedHistoricalRecords()

    class Meta:
        ordering = ("-at", "-id")
        indexes = [models.Index(fields=["attachment", "-at"], name="attachmentdownload_idx")]

    def __str__(self):
        return f"{self.attachment.file_name} by {self.user} at {self.at:%Y-%m-%d %H:%M}"

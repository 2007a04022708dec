"""Notification obligations: what a category of incident must be reported to an authority, by
when, and what was sent (issue 14 §4; docs/incidents.md §Notification obligations)."""

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q

from core.history import AuditedHistoricalRecords
from core.model_fields import person_link

from .incident import Category, Incident, now

# A deadline longer than this is a typing error, not a regulation (ten years).
MAX_DEADLINE_HOURS = 87_600
MAX_DEADLINE_MONTHS = 120


class Obligation(models.Model):
    """One deliverable a category of incident owes an authority: an initial notification,
    an intermediate report or a final report, due a number of hours and/or months after a
    recorded moment of the incident (`anchor`), optionally at most `cap_hours` after the
    organisation became aware of it (DORA's "4 h after classification, at most 24 h after
    awareness")."""

    class Deliverable(models.TextChoices):
        INITIAL = "initial", "Initial notification"
        INTERMEDIATE = "intermediate", "Intermediate report"
        FINAL = "final", "Final report"

    class Anchor(models.TextChoices):
        AWARE = "aware", "When the organisation became aware"
        CLASSIFIED = "classified", "When the incident was classified as major"
        PREVIOUS = "previous", "When the previous deliverable was submitted"

    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="obligations")
    name = models.CharField(max_length=200)
    authority = models.CharField(max_length=200, help_text="Who receives it.")
    deliverable = models.CharField(max_length=20, choices=Deliverable.choices)
    deadline_hours = models.PositiveIntegerField(
        default=0, validators=[MaxValueValidator(MAX_DEADLINE_HOURS)]
    )
    deadline_months = models.PositiveSmallIntegerField(
        default=0,
        validators=[MaxValueValidator(MAX_DEADLINE_MONTHS)],
        help_text="Calendar months (a month after 31 January is the last day of February).",
    )
    anchor = models.CharField(max_length=20, choices=Anchor.choices, default=Anchor.AWARE)
    previous = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="With the anchor “previous deliverable”: the one whose submission starts this clock.",
    )
    cap_hours = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MaxValueValidator(MAX_DEADLINE_HOURS)],
        help_text="Due at the latest this many hours after the organisation became aware.",
    )
    active = models.BooleanField(default=True)

    history = AuditedHistoricalRecords()

    class Meta:
        ordering = ("category", "id")
        constraints = [
            models.CheckConstraint(
                condition=Q(deadline_hours__gt=0) | Q(deadline_months__gt=0),
                name="obligation_has_deadline",
                violation_error_message="Give the deadline in hours or months (or both).",
            ),
            models.CheckConstraint(
                condition=Q(anchor="previous", previous__isnull=False)
                | (~Q(anchor="previous") & Q(previous__isnull=True)),
                name="obligation_previous_with_anchor",
                violation_error_message=(
                    "Name the previous deliverable exactly when the clock starts at its submission."
                ),
            ),
            models.CheckConstraint(
                condition=Q(cap_hours__isnull=True) | Q(cap_hours__gt=0),
                name="obligation_cap_positive",
                violation_error_message="The cap after awareness must be at least one hour.",
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.authority})"

    def clean(self):
        if self.previous_id is not None:
            if self.previous_id == self.pk:
                raise ValidationError({"previous": "An obligation cannot follow itself."})
            if self.previous.category_id != self.category_id:
                raise ValidationError(
                    {"previous": "The previous deliverable must be of the same category."}
                )
            if self.pk is not None and self.previous.previous_id == self.pk:
                raise ValidationError({"previous": "Two obligations cannot follow each other."})


class ObligationSubmission(models.Model):
    """What was sent to meet one obligation of one incident: when, to whom, by whom, its
    reference at the authority and its text. One per incident and obligation (a correction
    is a new record in the history, not a second submission)."""

    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, related_name="obligation_submissions"
    )
    obligation = models.ForeignKey(Obligation, on_delete=models.PROTECT, related_name="submissions")
    submitted_at = models.DateTimeField(default=now)
    recipient = models.CharField(max_length=200)
    reference = models.CharField(max_length=200, blank=True)
    text = models.TextField(blank=True)
    # Attachments are built separately (issue 14, another item): until then a name or link.
    attachment = models.CharField(max_length=500, blank=True)
    submitted_by = person_link(related_name="+")
    recorded_at = models.DateTimeField(default=now, editable=False)

    history = AuditedHistoricalRecords()

    class Meta:
        ordering = ("incident", "submitted_at", "id")
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "obligation"],
                name="obligationsubmission_once",
                violation_error_message="This obligation has been submitted for this incident already.",
            ),
        ]

    def __str__(self):
        return f"{self.obligation.name} to {self.recipient}"


class ObligationWaiver(models.Model):
    """An obligation that does not apply to one incident, with the reason (say, no personal
    data was involved), recorded by a coordinator."""

    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, related_name="obligation_waivers"
    )
    obligation = models.ForeignKey(Obligation, on_delete=models.PROTECT, related_name="waivers")
    reason = models.TextField()
    decided_by = person_link(related_name="+")
    decided_at = models.DateTimeField(default=now)

    history = AuditedHistoricalRecords()

    class Meta:
        ordering = ("incident", "id")
        verbose_name = "obligation not applicable"
        verbose_name_plural = "obligations not applicable"
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "obligation"],
                name="obligationwaiver_once",
                violation_error_message="This obligation is already marked not applicable here.",
            ),
        ]

    def __str__(self):
        return f"{self.obligation.name}: not applicable"


# The obligations the system ships with, by the category they fit (issue 14 §4): attached by
# the data migration 0010 where such a category exists, and by the demo data. Each: (key,
# category, name, authority, deliverable, hours, months, anchor, key of the previous, cap).
SEEDED_OBLIGATIONS = (
    (
        "gdpr-33",
        "Privacy",
        "GDPR Art. 33 personal-data breach notification",
        "Supervisory authority (data protection)",
        "initial",
        72,
        0,
        "aware",
        None,
        None,
    ),
    (
        "nis2-early",
        "Security",
        "NIS2 Art. 23 early warning",
        "CSIRT / competent authority (NIS2)",
        "initial",
        24,
        0,
        "aware",
        None,
        None,
    ),
    (
        "nis2-notification",
        "Security",
        "NIS2 Art. 23 incident notification",
        "CSIRT / competent authority (NIS2)",
        "intermediate",
        72,
        0,
        "aware",
        None,
        None,
    ),
    (
        "nis2-final",
        "Security",
        "NIS2 Art. 23 final report",
        "CSIRT / competent authority (NIS2)",
        "final",
        0,
        1,
        "previous",
        "nis2-notification",
        None,
    ),
    (
        "dora-initial",
        "Availability",
        "DORA major ICT-related incident initial notification",
        "Financial supervisor (DORA)",
        "initial",
        4,
        0,
        "classified",
        None,
        24,
    ),
)

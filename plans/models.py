"""Tables of the plans app: plans, versions, sections, reviews, acknowledgements and their notices."""

import datetime

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.errors import ImmutableRecord
from core.history import AuditedHistoricalRecords
from core.model_fields import person_link
from core.text import NormalisedTextModel
from core.validators import safe_link

# A plan's limits, the same in the admin, the API and the database (messages in words).
REVIEW_INTERVAL_MONTHS = (1, 120)
REVIEW_INTERVAL_TOO_SHORT = "The review interval must be at least one month."
REVIEW_INTERVAL_TOO_LONG = "The review interval is at most 120 months (ten years)."
MAX_ACKNOWLEDGEMENT_DAYS = 365
TOO_MANY_ACKNOWLEDGEMENT_DAYS = "Staff have at most 365 days to acknowledge a version."


class Plan(models.Model):
    """A response plan: what it is for, who must acknowledge it, how often it is reviewed."""

    code = models.SlugField(
        max_length=40, unique=True, help_text="Short stable identifier, e.g. IRP."
    )
    title = models.CharField(max_length=200)
    purpose = models.TextField(blank=True)
    scope = models.TextField(blank=True)
    objectives = models.TextField(blank=True)
    owner = person_link(related_name="owned_plans")
    audience = models.ManyToManyField(
        Group,
        blank=True,
        related_name="audience_plans",
        help_text="Members of these groups must acknowledge every published version.",
    )
    review_interval_months = models.PositiveSmallIntegerField(
        default=12,
        validators=[
            MinValueValidator(REVIEW_INTERVAL_MONTHS[0], REVIEW_INTERVAL_TOO_SHORT),
            MaxValueValidator(REVIEW_INTERVAL_MONTHS[1], REVIEW_INTERVAL_TOO_LONG),
        ],
        help_text="Months from publication to the next review (1 to 120).",
    )
    acknowledgement_days = models.PositiveSmallIntegerField(
        default=14,
        validators=[MaxValueValidator(MAX_ACKNOWLEDGEMENT_DAYS, TOO_MANY_ACKNOWLEDGEMENT_DAYS)],
        help_text="Days staff have to acknowledge a newly published version (0 to 365).",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    history = AuditedHistoricalRecords(m2m_fields=[audience])

    class Meta:
        ordering = ("code", "id")
        constraints = [
            models.CheckConstraint(
                condition=Q(review_interval_months__gte=REVIEW_INTERVAL_MONTHS[0]),
                name="plan_review_interval_positive",
                violation_error_message=REVIEW_INTERVAL_TOO_SHORT,
            ),
            models.CheckConstraint(
                condition=Q(review_interval_months__lte=REVIEW_INTERVAL_MONTHS[1]),
                name="plan_review_interval_at_most_ten_years",
                violation_error_message=REVIEW_INTERVAL_TOO_LONG,
            ),
            models.CheckConstraint(
                condition=Q(acknowledgement_days__lte=MAX_ACKNOWLEDGEMENT_DAYS),
                name="plan_acknowledgement_days_at_most_a_year",
                violation_error_message=TOO_MANY_ACKNOWLEDGEMENT_DAYS,
            ),
        ]

    def __str__(self):
        return f"{self.code} · {self.title}"


def signer(related_name):
    """Who signed a step of the review workflow (empty until the step is taken)."""
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name=related_name,
    )


class PlanVersion(NormalisedTextModel, models.Model):
    """One numbered version of a plan, moving through the review workflow."""

    normalised_text_fields = ("change_summary",)

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        IN_REVIEW = "in_review", "In review"
        APPROVED = "approved", "Approved"
        PUBLISHED = "published", "Published"
        SUPERSEDED = "superseded", "Superseded"

    # The review workflow, the one table of allowed steps (core.workflow checks it; the
    # database trigger on PostgreSQL and SQLite is tested against it).
    pipeline = {
        Status.DRAFT: (Status.IN_REVIEW,),
        Status.IN_REVIEW: (Status.APPROVED, Status.DRAFT),
        Status.APPROVED: (Status.PUBLISHED,),
        Status.PUBLISHED: (Status.SUPERSEDED,),
        Status.SUPERSEDED: (),
    }
    pipeline_noun = "version"

    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    author = person_link(related_name="authored_plan_versions")
    # Everyone who changed the draft's text or summary: none of them may approve it.
    editors = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="edited_plan_versions"
    )
    change_summary = models.TextField(blank=True)
    content_hash = models.CharField(max_length=64, null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    submitted_by = signer("submitted_plan_versions")
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_by = signer("approved_plan_versions")
    approved_at = models.DateTimeField(null=True, blank=True)
    published_by = signer("published_plan_versions")
    published_at = models.DateTimeField(null=True, blank=True)
    effective_date = models.DateField(null=True, blank=True)
    next_review_due = models.DateField(null=True, blank=True)
    superseded_at = models.DateTimeField(null=True, blank=True)

    history = AuditedHistoricalRecords(m2m_fields=[editors])

    class Meta:
        ordering = ("plan", "-number")
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "number"],
                name="planversion_unique_number",
                violation_error_message="This plan already has a version with this number.",
            ),
            models.UniqueConstraint(
                fields=["plan"],
                condition=Q(status="draft"),
                name="planversion_one_draft",
                violation_error_message="This plan already has a draft: finish or publish it before starting another.",
            ),
            models.UniqueConstraint(
                fields=["plan"],
                condition=Q(status="published"),
                name="planversion_one_published",
                violation_error_message="This plan already has a published version.",
            ),
            models.CheckConstraint(
                condition=(Q(status="draft") & Q(content_hash__isnull=True))
                | (~Q(status="draft") & Q(content_hash__regex=r"^[0-9a-f]{64}$")),
                name="planversion_hash_iff_submitted",
                violation_error_message="A version carries a fingerprint once it leaves draft, and only then.",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["published", "superseded"])
                | Q(published_at__isnull=False),
                name="planversion_published_has_time",
                violation_error_message="A published version needs the time it was published.",
            ),
        ]
        indexes = [models.Index(fields=["status", "next_review_due"])]
        permissions = [
            ("approve_planversion", "Can approve or send back a plan version"),
            ("publish_planversion", "Can publish a plan version"),
            ("view_unpublished_planversion", "Can see drafts and versions in review"),
            ("view_compliance_report", "Can see who acknowledged which version"),
        ]

    def __str__(self):
        return f"{self.plan.code} v{self.number} ({self.get_status_display()})"

    @property
    def is_draft(self):
        return self.status == self.Status.DRAFT

    def is_review_due(self, today=None):
        """Whether the published version is past its review date (the plans list asks the
        same of each plan's published version: queries.plans_list)."""
        return bool(
            self.status == self.Status.PUBLISHED
            and self.next_review_due
            and self.next_review_due < (today or timezone.localdate())
        )

    @property
    def acknowledge_by(self):
        """End of the grace period: outstanding acknowledgements are overdue after it."""
        if self.published_at is None:
            return None
        return self.published_at + datetime.timedelta(days=self.plan.acknowledgement_days)

    def grace_period_ended(self, now=None):
        """Whether the time to acknowledge this version (`acknowledge_by`) is over."""
        deadline = self.acknowledge_by
        return deadline is not None and (now or timezone.now()) > deadline

    def acknowledgements_overdue(self, now=None):
        """The one definition of "overdue" for acknowledgements: every page, export, endpoint
        and reminder asks this. Outstanding acknowledgements of a version are overdue once it
        is the published version and its grace period has ended; a superseded version is owed
        by nobody."""
        return self.status == self.Status.PUBLISHED and self.grace_period_ended(now)

    @property
    def acknowledgement_overdue(self):
        return self.acknowledgements_overdue()

    @property
    def statement(self):
        """The sentence every acknowledger of this version agrees to."""
        return (
            f"I have read and understood {self.plan.title} ({self.plan.code}) version "
            f"{self.number} and will follow it."
        )


class Section(NormalisedTextModel, models.Model):
    """One section of a version; its text is frozen once the version leaves draft."""

    normalised_text_fields = ("heading", "body", "guidance")

    version = models.ForeignKey(PlanVersion, on_delete=models.PROTECT, related_name="sections")
    order = models.PositiveSmallIntegerField()
    key = models.SlugField(max_length=60)
    heading = models.CharField(max_length=200)
    body = models.TextField(blank=True, help_text="Markdown.")
    guidance = models.TextField(blank=True, help_text="Advice for the author; not published.")

    history = AuditedHistoricalRecords()

    class Meta:
        ordering = ("version", "order", "id")
        constraints = [
            models.UniqueConstraint(
                fields=["version", "key"],
                name="section_unique_key",
                violation_error_message="This version already has a section with this key.",
            ),
        ]

    def __str__(self):
        return self.heading

    def save(self, *args, **kwargs):
        self._check_editable()
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        self._check_editable()
        return super().delete(*args, **kwargs)

    def _check_editable(self):
        status = (
            PlanVersion.objects.filter(pk=self.version_id).values_list("status", flat=True).first()
        )
        if status is not None and status != PlanVersion.Status.DRAFT:
            raise ImmutableRecord("The sections of a version that left draft cannot change.")


class Review(models.Model):
    """A step of the review workflow with the reviewer's decision and comment."""

    class Decision(models.TextChoices):
        SUBMITTED = "submitted", "Submitted for review"
        APPROVED = "approved", "Approved"
        CHANGES_REQUESTED = "changes_requested", "Changes requested"
        PUBLISHED = "published", "Published"

    version = models.ForeignKey(PlanVersion, on_delete=models.PROTECT, related_name="reviews")
    reviewer = person_link(related_name="plan_reviews")
    decision = models.CharField(max_length=20, choices=Decision.choices)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    history = AuditedHistoricalRecords()

    class Meta:
        ordering = ("version", "created_at", "id")

    def __str__(self):
        return f"{self.get_decision_display()} by {self.reviewer}"


class Acknowledgement(models.Model):
    """A person's signed statement that they read one exact published version. Never changes."""

    user = person_link(related_name="plan_acknowledgements")
    version = models.ForeignKey(
        PlanVersion, on_delete=models.PROTECT, related_name="acknowledgements"
    )
    acknowledged_at = models.DateTimeField(default=timezone.now)
    full_name = models.CharField(max_length=300)
    statement = models.TextField()
    content_hash = models.CharField(max_length=64)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.TextField(blank=True)

    history = AuditedHistoricalRecords()

    class Meta:
        ordering = ("-acknowledged_at", "-id")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "version"],
                name="acknowledgement_once",
                violation_error_message="This person has already acknowledged this version.",
            ),
        ]
        indexes = [models.Index(fields=["version", "user"])]

    def __str__(self):
        return f"{self.user} acknowledged {self.version}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise ImmutableRecord("An acknowledgement cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableRecord("An acknowledgement cannot be deleted.")


class Signature(models.Model):
    """An electronic signature on a plan version (21 CFR 11.50, 11.100, 11.200): the signer's
    printed name at that moment, when, what it means, and the fingerprint of the text signed.

    Made only by the services that take a signature (an acknowledgement, each review step),
    each from a `core.signing.SignerProof` for the signer; never changed or deleted (the
    model refuses and so does the database, migration 0011).
    """

    class Meaning(models.TextChoices):
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        SUBMITTED = "submitted", "Submitted"
        APPROVED = "approved", "Approved"
        CHANGES_REQUESTED = "changes_requested", "Changes requested"
        PUBLISHED = "published", "Published"

    class Method(models.TextChoices):
        PASSWORD = "password", "Password re-entered"
        OIDC = "oidc", "Re-authenticated at the identity provider"
        SYSTEM = "system", "System (demo data, import or command)"

    version = models.ForeignKey(PlanVersion, on_delete=models.PROTECT, related_name="signatures")
    signer = person_link(related_name="plan_signatures")
    printed_name = models.CharField(max_length=300)
    meaning = models.CharField(max_length=20, choices=Meaning.choices)
    signed_at = models.DateTimeField(default=timezone.now)
    content_hash = models.CharField(max_length=64)
    method = models.CharField(max_length=10, choices=Method.choices)
    acknowledgement = models.OneToOneField(
        "Acknowledgement",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="signature",
    )
    review = models.OneToOneField(
        Review, on_delete=models.PROTECT, null=True, blank=True, related_name="signature"
    )

    history = AuditedHistoricalRecords()

    class Meta:
        ordering = ("version", "signed_at", "id")
        constraints = [
            models.CheckConstraint(
                condition=(Q(acknowledgement__isnull=False) & Q(review__isnull=True))
                | (Q(acknowledgement__isnull=True) & Q(review__isnull=False)),
                name="signature_signs_one_record",
                violation_error_message="A signature signs one acknowledgement or one review step.",
            ),
        ]

    def __str__(self):
        return f"{self.get_meaning_display()} by {self.printed_name}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise ImmutableRecord("A signature cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableRecord("A signature cannot be deleted.")


class PlanChangeRequest(models.Model):
    """A request (from a post-incident review, an exercise, a person) to change a plan."""

    # The summary of a request filed (or restated) for a confidential source: the asking app
    # writes it in place of anything that would say what the source is.
    CONFIDENTIAL_SUMMARY = (
        "Plan change requested by the post-incident review of a confidential incident"
    )

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ADDRESSED = "addressed", "Addressed"

    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="change_requests")
    requested_by = person_link(related_name="plan_change_requests")
    summary = models.CharField(max_length=300)
    details = models.TextField(blank=True)
    # Where it came from, as a label and a link, so plans never imports the apps that ask.
    source = models.CharField(max_length=200, blank=True)
    source_url = models.CharField(
        max_length=500,
        blank=True,
        validators=[safe_link],
        help_text="An http(s) link or a path on this site (/…).",
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    addressed_in = models.ForeignKey(
        PlanVersion,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="addressed_change_requests",
    )
    created_at = models.DateTimeField(default=timezone.now)
    addressed_at = models.DateTimeField(null=True, blank=True)

    history = AuditedHistoricalRecords()

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [models.Index(fields=["plan", "status"])]
        permissions = [
            (
                "read_confidential_source",
                "Can read what a change request restated as confidential said before",
            )
        ]

    def __str__(self):
        return self.summary

    @property
    def has_confidential_source(self):
        return self.summary == self.CONFIDENTIAL_SUMMARY


class AcknowledgementNotice(models.Model):
    """One email sent about a version to a person: the publication notice, or a reminder."""

    class Kind(models.TextChoices):
        PUBLISHED = "published", "Publication notice"
        REMINDER = "reminder", "Reminder"

    user = person_link(related_name="plan_notices")
    version = models.ForeignKey(PlanVersion, on_delete=models.PROTECT, related_name="notices")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    sent_at = models.DateTimeField(default=timezone.now)

    history = AuditedHistoricalRecords()

    class Meta:
        ordering = ("-sent_at", "-id")
        constraints = [
            # The database, not the sender, guarantees a publication notice goes out once.
            models.UniqueConstraint(
                fields=["user", "version"],
                condition=Q(kind="published"),
                name="notice_published_once",
                violation_error_message="This person has already been told of this publication.",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} to {self.user} about {self.version}"


class ReminderClock(models.Model):
    """Per person: when they were last reminded; the row the reminder senders lock."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="plan_reminder_clock"
    )
    last_sent_at = models.DateTimeField(null=True, blank=True)

    history = AuditedHistoricalRecords()

    def __str__(self):
        return f"Reminder clock of {self.user}"

"""Incidents themselves: their kinds, priorities, response targets, lifecycle and response team."""

import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.history import AuditedHistoricalRecords
from core.model_fields import person_link


def now():
    """The current time, looked up at call time (so a demo clock can stand in for it)."""
    return timezone.now()


class Priority(models.TextChoices):
    P1 = "P1", "P1 · critical"
    P2 = "P2", "P2 · high"
    P3 = "P3", "P3 · moderate"
    P4 = "P4", "P4 · low"


class Impact(models.IntegerChoices):
    EXTENSIVE = 1, "1 · extensive / widespread"
    SIGNIFICANT = 2, "2 · significant / large"
    MODERATE = 3, "3 · moderate / limited"
    MINOR = 4, "4 · minor / localised"


class Urgency(models.IntegerChoices):
    CRITICAL = 1, "1 · critical"
    HIGH = 2, "2 · high"
    MEDIUM = 3, "3 · medium"
    LOW = 4, "4 · low"


# Impact × urgency → priority, the one place priority comes from (seed 004 §4).
PRIORITY_MATRIX = {
    (1, 1): "P1", (1, 2): "P1", (1, 3): "P2", (1, 4): "P3",
    (2, 1): "P1", (2, 2): "P2", (2, 3): "P2", (2, 4): "P3",
    (3, 1): "P2", (3, 2): "P2", (3, 3): "P3", (3, 4): "P4",
    (4, 1): "P3", (4, 2): "P3", (4, 3): "P4", (4, 4): "P4",
}  # fmt: skip


def derive_priority(impact, urgency):
    return PRIORITY_MATRIX[(int(impact), int(urgency))]


class Category(models.Model):
    """A kind of incident (security, availability, …); names the plan that governs it."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    plan = models.ForeignKey(
        "plans.Plan",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="incident_categories",
        help_text="The response plan that governs incidents of this category.",
    )
    active = models.BooleanField(default=True)

    history = AuditedHistoricalRecords()

    class Meta:
        ordering = ("name",)
        verbose_name_plural = "categories"

    def __str__(self):
        return self.name


class ResponseTarget(models.Model):
    """How fast incidents of one priority must be acknowledged, contained, recovered and updated on."""

    priority = models.CharField(max_length=2, choices=Priority.choices, unique=True)
    acknowledge_minutes = models.PositiveIntegerField()
    contain_minutes = models.PositiveIntegerField()
    recover_minutes = models.PositiveIntegerField()
    update_minutes = models.PositiveIntegerField(
        help_text="Stakeholders get an update at least this often while the incident is open."
    )

    history = AuditedHistoricalRecords()

    class Meta:
        ordering = ("priority",)
        constraints = [
            models.CheckConstraint(
                condition=Q(acknowledge_minutes__gt=0)
                & Q(contain_minutes__gt=0)
                & Q(recover_minutes__gt=0)
                & Q(update_minutes__gt=0),
                name="responsetarget_positive",
                violation_error_message="Every response target must be at least one minute.",
            ),
        ]

    def __str__(self):
        return f"Targets for {self.priority}"


class Status(models.TextChoices):
    REPORTED = "reported", "Reported"
    TRIAGED = "triaged", "Triaged"
    INVESTIGATING = "investigating", "Investigating"
    CONTAINED = "contained", "Contained"
    ERADICATED = "eradicated", "Eradicated"
    RECOVERED = "recovered", "Recovered"
    CLOSED = "closed", "Closed"
    CANCELLED = "cancelled", "Cancelled"


OPEN_STATUSES = (
    Status.REPORTED,
    Status.TRIAGED,
    Status.INVESTIGATING,
    Status.CONTAINED,
    Status.ERADICATED,
    Status.RECOVERED,
)

# A report may leave its kind (category) to triage; past triage it has one (the
# `incident_classified_after_triage` constraint); cancelled before triage, never.
UNCLASSIFIED_STATUSES = (Status.REPORTED, Status.CANCELLED)


class ReferenceCounter(models.Model):
    """Last incident number handed out per year; the row is locked while a number is taken."""

    year = models.PositiveIntegerField(unique=True)
    last_number = models.PositiveIntegerField(default=0)

    history = AuditedHistoricalRecords()

    def __str__(self):
        return f"{self.year}: {self.last_number}"


class Incident(models.Model):
    """One reported incident, from the report to closure."""

    # The lifecycle, the one table of allowed steps (core.workflow checks it). Reopening
    # (closed or cancelled → investigating) needs a reason; the service enforces that.
    pipeline_noun = "incident"
    pipeline_refusal = "An incident cannot go from {current} to {target}."
    pipeline = {
        Status.REPORTED: (Status.TRIAGED, Status.CANCELLED),
        Status.TRIAGED: (Status.INVESTIGATING, Status.CANCELLED),
        Status.INVESTIGATING: (Status.CONTAINED, Status.CANCELLED),
        Status.CONTAINED: (Status.ERADICATED, Status.CANCELLED),
        Status.ERADICATED: (Status.RECOVERED, Status.CANCELLED),
        Status.RECOVERED: (Status.CLOSED, Status.CANCELLED),
        Status.CLOSED: (Status.INVESTIGATING,),
        Status.CANCELLED: (Status.INVESTIGATING,),
    }

    reference = models.CharField(max_length=20, unique=True, editable=False)
    title = models.CharField(max_length=200)
    description = models.TextField(help_text="What happened.")
    affected_service = models.CharField(
        max_length=200, blank=True, help_text="Where: the affected service or system."
    )
    observed_impact = models.TextField(blank=True)
    actions_taken = models.TextField(blank=True, help_text="What was done so far.")
    occurred_at = models.DateTimeField(help_text="When the incident occurred (or began).")
    reported_at = models.DateTimeField(default=now, editable=False)
    # The clocks of notification obligations (models/obligations.py) start here. Empty: at
    # the report time (queries.AWARE_AT); set by `incident_set_aware`, with a reason.
    aware_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="When the organisation became aware of the incident (empty: when it was reported).",
    )
    # DORA's "classified as major": stamped by `incident_classify_major`, with a reason.
    classified_major_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Empty while the report waits for triage: a reporter need not know the kind of incident.
    category = models.ForeignKey(
        Category,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="incidents",
        help_text="The kind of incident; empty (unclassified) until triage.",
    )
    impact = models.PositiveSmallIntegerField(choices=Impact.choices, default=Impact.MODERATE)
    urgency = models.PositiveSmallIntegerField(choices=Urgency.choices, default=Urgency.MEDIUM)
    priority = models.CharField(max_length=2, choices=Priority.choices, editable=False)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.REPORTED, editable=False
    )
    is_late = models.BooleanField(default=False, editable=False)
    anonymous = models.BooleanField(
        default=False, help_text="The reporter's identity is shown to compliance only."
    )
    confidential = models.BooleanField(
        default=False, help_text="Only the response team, compliance and superusers see it."
    )
    reporter = person_link(related_name="reported_incidents", optional=True)
    incident_manager = person_link(related_name="managed_incidents", optional=True)
    plan_version = models.ForeignKey(
        "plans.PlanVersion",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="incidents",
        help_text="The plan version in force when the incident was reported.",
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True, editable=False)
    investigating_at = models.DateTimeField(null=True, blank=True, editable=False)
    contained_at = models.DateTimeField(null=True, blank=True, editable=False)
    eradicated_at = models.DateTimeField(null=True, blank=True, editable=False)
    recovered_at = models.DateTimeField(null=True, blank=True, editable=False)
    closed_at = models.DateTimeField(null=True, blank=True, editable=False)
    cancelled_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_update_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="Last stakeholder communication."
    )
    reopened_count = models.PositiveSmallIntegerField(default=0, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    history = AuditedHistoricalRecords()

    class Meta:
        ordering = ("-reported_at", "-id")
        indexes = [
            models.Index(fields=["-reported_at", "-id"], name="incident_reported_idx"),
            models.Index(fields=["status", "-reported_at"], name="incident_status_idx"),
            models.Index(fields=["priority", "-reported_at"], name="incident_priority_idx"),
            # Counting the confidential incidents someone may see (queries.visible_count) reads
            # this small index alone on PostgreSQL (`include` is ignored elsewhere).
            models.Index(
                fields=["id"],
                include=["confidential", "incident_manager", "reporter"],
                condition=Q(confidential=True),
                name="incident_confidential_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(impact__gte=1, impact__lte=4),
                name="incident_impact_range",
                violation_error_message="Impact must be between 1 (extensive) and 4 (minor).",
            ),
            models.CheckConstraint(
                condition=Q(urgency__gte=1, urgency__lte=4),
                name="incident_urgency_range",
                violation_error_message="Urgency must be between 1 (critical) and 4 (low).",
            ),
            models.CheckConstraint(
                condition=Q(priority__in=["P1", "P2", "P3", "P4"]),
                name="incident_priority_valid",
                violation_error_message="Priority must be P1, P2, P3 or P4.",
            ),
            # Triage classifies: past "reported" an incident has a category (one cancelled
            # before triage, as not an incident or a duplicate, may never have had one).
            models.CheckConstraint(
                condition=Q(category__isnull=False) | Q(status__in=UNCLASSIFIED_STATUSES),
                name="incident_classified_after_triage",
                violation_error_message=(
                    "Choose the kind of incident (its category): only a report awaiting "
                    "triage may be unclassified."
                ),
            ),
        ]
        permissions = [
            ("see_all_confidential", "Can see confidential incidents outside the response team"),
            ("see_reporter_identity", "Can see who reported an anonymous incident"),
            (
                "triage_unassigned",
                "Can see and triage incidents without an incident manager, confidential ones too",
            ),
        ]

    def __str__(self):
        return f"{self.reference} · {self.title}"

    def save(self, *args, **kwargs):
        self.derive()
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {
                *kwargs["update_fields"],
                "priority",
                "is_late",
                "updated_at",
            }
        super().save(*args, **kwargs)

    def clean(self):
        self.derive()
        if self.occurred_at and self.occurred_at > (
            self.reported_at or timezone.now()
        ) + datetime.timedelta(minutes=5):
            raise ValidationError({"occurred_at": "An incident cannot occur in the future."})

    def derive(self):
        """Priority is derived, never typed; lateness is fixed by the report and occurrence times."""
        if self.impact and self.urgency:
            self.priority = derive_priority(self.impact, self.urgency)
        if self.occurred_at and self.reported_at:
            window = datetime.timedelta(hours=settings.INCIDENT_LATE_REPORT_HOURS)
            self.is_late = self.reported_at - self.occurred_at > window

    @property
    def is_open(self):
        return self.status in OPEN_STATUSES


class TeamMember(models.Model):
    """A person on an incident's response team, with their role."""

    class Role(models.TextChoices):
        COMMUNICATIONS_LEAD = "communications_lead", "Communications lead"
        TECHNICAL_LEAD = "technical_lead", "Technical lead"
        SCRIBE = "scribe", "Scribe"
        SUBJECT_MATTER_EXPERT = "subject_matter_expert", "Subject matter expert"
        RESPONDER = "responder", "Responder"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="team")
    user = person_link(related_name="incident_roles")
    role = models.CharField(max_length=30, choices=Role.choices, default=Role.RESPONDER)
    added_at = models.DateTimeField(default=now)

    history = AuditedHistoricalRecords()

    class Meta:
        ordering = ("incident", "added_at", "id")
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "user"],
                name="teammember_once",
                violation_error_message="This person is already on the incident's team.",
            ),
        ]
        # "Which incidents is this person on?" (who may see a confidential incident): read
        # from the index alone, without visiting the rows.
        indexes = [models.Index(fields=["user", "incident"], name="teammember_user_incident_idx")]

    def __str__(self):
        return f"{self.user} ({self.get_role_display()})"

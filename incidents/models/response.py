"""The response to an incident: escalations and their rules, the timeline, actions, the post-incident review."""

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.history import AuditedHistoricalRecords
from core.model_fields import person_link

from .incident import Incident, Priority, now


class EscalationLevel(models.TextChoices):
    TEAM_LEAD = "1", "1 · team lead"
    INCIDENT_MANAGER = "2", "2 · incident manager"
    SENIOR_MANAGEMENT = "3", "3 · senior management"
    FUNCTIONAL = "functional", "Functional hand-off to a specialist team"


def _one_target():
    return (Q(to_user__isnull=False) & Q(to_group__isnull=True)) | (
        Q(to_user__isnull=True) & Q(to_group__isnull=False)
    )


class EscalationRule(models.Model):
    """Escalate automatically when an incident of this priority misses its acknowledge target."""

    priority = models.CharField(max_length=2, choices=Priority.choices)
    level = models.CharField(max_length=12, choices=EscalationLevel.choices)
    to_user = person_link(related_name="+", optional=True)
    to_group = models.ForeignKey(
        Group, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    active = models.BooleanField(default=True)

    history = AuditedHistoricalRecords()

    class Meta:
        ordering = ("priority", "level")
        constraints = [
            models.CheckConstraint(
                condition=_one_target(),
                name="escalationrule_one_target",
                violation_error_message="Escalate to a person or to a group: choose exactly one.",
            )
        ]

    def __str__(self):
        return f"{self.priority} → level {self.level} ({self.to_user or self.to_group})"


class Escalation(models.Model):
    """An incident handed up (or across) to someone, by someone, for a reason."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="escalations")
    level = models.CharField(max_length=12, choices=EscalationLevel.choices)
    to_user = person_link(related_name="escalations_received", optional=True)
    to_group = models.ForeignKey(
        Group, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reason = models.TextField()
    escalated_by = person_link(related_name="escalations_made")
    created_at = models.DateTimeField(default=now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = person_link(related_name="+", optional=True)
    automatic = models.BooleanField(default=False)
    rule = models.ForeignKey(
        EscalationRule, on_delete=models.PROTECT, null=True, blank=True, related_name="escalations"
    )
    # Set when the timer escalated a breached notification obligation (once per incident).
    obligation = models.ForeignKey(
        "incidents.Obligation",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="escalations",
    )

    history = AuditedHistoricalRecords()

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            models.CheckConstraint(
                condition=_one_target(),
                name="escalation_one_target",
                violation_error_message="Escalate to a person or to a group: choose exactly one.",
            ),
            # Automatic escalation happens once per incident and rule, whoever runs the timer.
            models.UniqueConstraint(
                fields=["incident", "rule"],
                condition=Q(automatic=True),
                name="escalation_automatic_once",
                violation_error_message="This rule has already escalated this incident automatically.",
            ),
            models.UniqueConstraint(
                fields=["incident", "obligation"],
                condition=Q(automatic=True, obligation__isnull=False),
                name="escalation_obligation_once",
                violation_error_message=(
                    "This breached obligation has already escalated this incident automatically."
                ),
            ),
        ]

    def __str__(self):
        return f"Level {self.level} to {self.to_user or self.to_group}"


class TimelineEntry(models.Model):
    """One line of an incident's timeline."""

    class Kind(models.TextChoices):
        NOTE = "note", "Note"
        STATUS_CHANGE = "status_change", "Status change"
        ESCALATION = "escalation", "Escalation"
        COMMUNICATION = "communication", "Communication sent"
        ACTION = "action", "Action"
        TEAM = "team", "Team change"
        REVIEW = "review", "Post-incident review"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="timeline")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.NOTE)
    text = models.TextField()
    author = person_link(related_name="+", optional=True)
    created_at = models.DateTimeField(default=now)

    history = AuditedHistoricalRecords()

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name_plural = "timeline entries"
        indexes = [models.Index(fields=["incident", "-created_at"], name="timeline_incident_idx")]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.text[:60]}"


class Action(models.Model):
    """A containment, eradication, recovery, corrective or preventive action with an owner and a due date."""

    class Kind(models.TextChoices):
        CONTAINMENT = "containment", "Containment"
        ERADICATION = "eradication", "Eradication"
        RECOVERY = "recovery", "Recovery"
        CORRECTIVE = "corrective", "Corrective"
        PREVENTIVE = "preventive", "Preventive"

    class ActionStatus(models.TextChoices):
        OPEN = "open", "Open"
        IN_PROGRESS = "in_progress", "In progress"
        DONE = "done", "Done"
        CANCELLED = "cancelled", "Cancelled"

    # Any status may follow any other (reopening a done action clears its completion); the
    # table says so, so the service checks actions as it checks every other status field.
    pipeline = {
        ActionStatus.OPEN: (ActionStatus.IN_PROGRESS, ActionStatus.DONE, ActionStatus.CANCELLED),
        ActionStatus.IN_PROGRESS: (ActionStatus.OPEN, ActionStatus.DONE, ActionStatus.CANCELLED),
        ActionStatus.DONE: (ActionStatus.OPEN, ActionStatus.IN_PROGRESS, ActionStatus.CANCELLED),
        ActionStatus.CANCELLED: (ActionStatus.OPEN, ActionStatus.IN_PROGRESS, ActionStatus.DONE),
    }
    pipeline_noun = "action"
    # The statuses of an action still to be done (past its due date: overdue).
    OUTSTANDING = (ActionStatus.OPEN, ActionStatus.IN_PROGRESS)

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="actions")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    description = models.TextField()
    owner = person_link(related_name="incident_actions", optional=True)
    due_date = models.DateField(null=True, blank=True)
    status = models.CharField(
        max_length=20, choices=ActionStatus.choices, default=ActionStatus.OPEN
    )
    completed_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=now)
    # The due date its owner was last reminded of (services.action_due_remind): once per due date.
    due_reminder_sent_for = models.DateField(null=True, blank=True, editable=False)

    history = AuditedHistoricalRecords()

    class Meta:
        ordering = ("due_date", "id")
        indexes = [models.Index(fields=["status", "due_date"], name="action_status_due_idx")]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.description[:60]}"

    @property
    def is_overdue(self):
        return (
            self.status in self.OUTSTANDING
            and self.due_date is not None
            and self.due_date < timezone.localdate()
        )


class PostIncidentReview(models.Model):
    """What was learned from an incident; P1 and P2 incidents cannot close without a completed one."""

    class ReviewStatus(models.TextChoices):
        DRAFT = "draft", "Draft"
        COMPLETED = "completed", "Completed"

    # A completed review is final (review_complete; review_save refuses to edit one).
    pipeline = {ReviewStatus.DRAFT: (ReviewStatus.COMPLETED,), ReviewStatus.COMPLETED: ()}
    pipeline_noun = "review"

    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="review")
    summary = models.TextField(blank=True)
    root_cause = models.TextField(blank=True)
    contributing_factors = models.TextField(blank=True)
    went_well = models.TextField(blank=True)
    went_badly = models.TextField(blank=True)
    lessons_learned = models.TextField(blank=True)
    participants = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    plan_change_needed = models.BooleanField(
        default=False,
        help_text="Should the response plan change? A change request goes to its owner.",
    )
    plan_change_description = models.TextField(blank=True)
    plan_change_request = models.ForeignKey(
        "plans.PlanChangeRequest",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )
    status = models.CharField(
        max_length=20, choices=ReviewStatus.choices, default=ReviewStatus.DRAFT
    )
    completed_at = models.DateTimeField(null=True, blank=True, editable=False)
    completed_by = person_link(related_name="+", optional=True, editable=False)

    history = AuditedHistoricalRecords(m2m_fields=[participants])

    class Meta:
        verbose_name = "post-incident review"

    def __str__(self):
        return f"Review of {self.incident.reference}"

    @property
    def is_completed(self):
        """Completed is final: the review can no longer be edited."""
        return self.status == self.ReviewStatus.COMPLETED

    def clean(self):
        if self.plan_change_needed and not self.plan_change_description.strip():
            raise ValidationError(
                {"plan_change_description": "Say what should change in the plan."}
            )

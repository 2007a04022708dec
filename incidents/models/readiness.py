"""Responder readiness: whether a person was ready when they took their part in an incident."""

from django.db import models
from django.utils import timezone

from core.history import AuditedHistoricalRecords
from core.model_fields import person_link

from .incident import Incident


class Readiness(models.Model):
    """Recorded once, when a person joins an incident's team or becomes its manager: had they
    acknowledged the plan version in force, and were they current on the courses that plan's
    training requires (training courses that name the plan)? A snapshot of that moment, never
    recomputed: what they did afterwards does not change what was true when they started.
    Joining again (or changing role) records a new row; the newest one per person is shown.
    """

    class Part(models.TextChoices):
        INCIDENT_MANAGER = "incident_manager", "Incident manager"
        TEAM_MEMBER = "team_member", "Team member"

    class State(models.TextChoices):
        READY = "ready", "Ready: plan signed, training current"
        NOT_READY = "not_ready", "Not ready"
        NO_PLAN = "no_plan", "No plan in force"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="readiness")
    user = person_link(related_name="incident_readiness")
    part = models.CharField(max_length=20, choices=Part.choices)
    role = models.CharField(max_length=30, blank=True, help_text="The team role, for a member.")
    recorded_at = models.DateTimeField(default=timezone.now, editable=False)
    plan_version = models.ForeignKey(
        "plans.PlanVersion",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The plan version in force for the incident at that moment.",
    )
    acknowledged_at = models.DateTimeField(
        null=True, blank=True, help_text="When they had acknowledged that version; empty: not."
    )
    courses_required = models.JSONField(
        default=list, blank=True, help_text="[{id, title}] of the plan's courses."
    )
    courses_missing = models.JSONField(
        default=list,
        blank=True,
        help_text="[{id, title, state}] of those they were not current on (overdue or never).",
    )
    state = models.CharField(max_length=20, choices=State.choices)

    history = AuditedHistoricalRecords()

    class Meta:
        ordering = ("incident", "-recorded_at", "-id")
        verbose_name_plural = "readiness records"
        indexes = [models.Index(fields=["incident", "user", "-recorded_at"])]

    def __str__(self):
        return f"{self.user} on {self.incident.reference}: {self.get_state_display()}"

    @property
    def acknowledged(self):
        return self.acknowledged_at is not None

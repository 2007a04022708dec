"""Stakeholder communications: prepared message templates and the messages sent, exactly as sent."""

import string

from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import models

from core.history import AuditedHistoricalRecords
from core.model_fields import person_link

from .incident import Incident, now

PLACEHOLDERS = (
    "reference",
    "title",
    "status",
    "priority",
    "category",
    "incident_manager",
    "affected_service",
    "next_update_due",
)


def template_placeholders(text):
    """The {placeholders} a template text uses; raises ValidationError for malformed ones."""
    try:
        names = {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}
    except ValueError as exc:
        raise ValidationError(f"Malformed placeholder: {exc}.") from exc
    return names


class MessageTemplate(models.Model):
    """A prepared message for a recurring scenario, with placeholders filled from the incident."""

    name = models.CharField(max_length=100, unique=True)
    scenario = models.CharField(max_length=200, blank=True)
    subject = models.CharField(max_length=200)
    body = models.TextField(
        help_text="Placeholders: " + ", ".join("{" + p + "}" for p in PLACEHOLDERS)
    )
    active = models.BooleanField(default=True)

    history = AuditedHistoricalRecords()

    class Meta:
        ordering = ("name",)

    def __str__(self):
        return self.name

    def clean(self):
        errors = {}
        for field in ("subject", "body"):
            try:
                unknown = template_placeholders(getattr(self, field)) - set(PLACEHOLDERS)
            except ValidationError as exc:
                errors[field] = exc.messages
                continue
            if unknown:
                errors[field] = [f"Unknown placeholder(s): {', '.join(sorted(unknown))}."]
        if errors:
            raise ValidationError(errors)


class Communication(models.Model):
    """A message sent to stakeholders about an incident, exactly as sent."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="communications")
    template = models.ForeignKey(
        MessageTemplate, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    audience = models.TextField(blank=True, help_text="Email addresses, comma-separated.")
    group = models.ForeignKey(
        Group, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    subject = models.CharField(max_length=200)
    body = models.TextField()
    recipient_count = models.PositiveIntegerField(default=0)
    sent_by = person_link(related_name="+")
    sent_at = models.DateTimeField(default=now)

    history = AuditedHistoricalRecords()

    class Meta:
        ordering = ("-sent_at", "-id")

    def __str__(self):
        return self.subject

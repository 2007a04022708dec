"""The self-service incident report form."""

from django import forms
from django.utils import timezone

from core.fields import UTCDateTimeField

from .models import Category, Impact, Urgency


class ReportForm(forms.Form):
    title = forms.CharField(max_length=200, label="Short title")
    description = forms.CharField(widget=forms.Textarea, label="What happened?")
    occurred_at = UTCDateTimeField(
        label="When did it happen?",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
    )
    affected_service = forms.CharField(
        max_length=200, required=False, label="Where? (service or system)"
    )
    # Offered, not required: the response team classifies what the reporter cannot.
    category = forms.ModelChoiceField(
        queryset=Category.objects.filter(active=True),
        required=False,
        empty_label="I don't know (the response team will decide)",
        label="Kind of incident",
    )
    observed_impact = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False, label="What impact have you seen?"
    )
    actions_taken = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False, label="What has been done so far?"
    )
    impact = forms.TypedChoiceField(
        choices=Impact.choices, coerce=int, initial=Impact.MODERATE, label="How widespread is it?"
    )
    urgency = forms.TypedChoiceField(
        choices=Urgency.choices, coerce=int, initial=Urgency.MEDIUM, label="How urgent is it?"
    )
    anonymous = forms.BooleanField(
        required=False,
        label="Keep my name hidden",
        help_text="Only compliance staff will be able to see that you reported it.",
    )
    confidential = forms.BooleanField(
        required=False,
        label="Confidential",
        help_text="Only the response team, compliance and administrators will see this report.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Typed times are read in the reporter's zone (core/timezones.py); say which.
        self.fields[
            "occurred_at"
        ].help_text = f"In your time zone, {timezone.get_current_timezone_name()}."

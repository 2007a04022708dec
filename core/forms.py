"""The self-service form a person sets their time zone with."""

from django import forms

from core.timezones import known_time_zones


class TimeZoneForm(forms.Form):
    time_zone = forms.ChoiceField(label="Time zone", choices=())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = [(name, name) for name in sorted(known_time_zones())]

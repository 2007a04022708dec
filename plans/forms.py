"""Self-service forms of the plans app."""

from django import forms


class AcknowledgementForm(forms.Form):
    agree = forms.BooleanField(required=True)
    full_name = forms.CharField(
        max_length=300,
        label="Your full name",
        help_text="Type your name as your signature. Case and extra spaces do not matter.",
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    content_hash = forms.CharField(max_length=64, widget=forms.HiddenInput)

    def __init__(self, *args, statement="", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agree"].label = statement

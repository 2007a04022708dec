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
    # 11.200: the typed name identifies, the password proves it is you (core.signing).
    password = forms.CharField(
        required=False,
        max_length=4096,
        strip=False,
        label="Your password",
        help_text="Re-enter your password to sign.",
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, *args, statement="", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agree"].label = statement

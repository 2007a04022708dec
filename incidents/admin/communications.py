"""Stakeholder communications in the admin: write, preview, then send; the outbox says how each went."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import flatten_fieldsets
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect

from core.admin import ServiceAdmin, person_column
from core.errors import DomainError, InvalidInput, add_to_form
from core.mail import parse_addresses

from .. import queries, services
from ..models import Communication
from .common import VisibleIncidentMixin


class CommunicationForm(forms.ModelForm):
    """The add form; validating it renders the message (`services.communication_render`),
    so the preview, its errors and the send read the same text."""

    # Who asks: set on the class CommunicationAdmin.get_form makes for each request.
    actor = None

    class Meta:
        model = Communication
        fields = ("incident", "template", "subject", "body", "audience", "group")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.rendered = None
        # A sent communication's page shows every field read-only: the form has none of them.
        if "subject" in self.fields:
            self.fields["subject"].required = False
        if "body" in self.fields:
            body = self.fields["body"]
            body.required = False
            body.help_text = (
                "Leave empty to use the template; placeholders such as {reference} are filled in."
            )

    def clean_audience(self):
        # The service checks again (for every caller); here the error lands on the field.
        try:
            return ", ".join(parse_addresses(self.cleaned_data.get("audience")))
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from None

    def message(self):
        """The message as the services take it (render and send read the same)."""
        data = self.cleaned_data
        return {
            "incident": data["incident"],
            "template": data.get("template"),
            "subject": data.get("subject") or "",
            "body": data.get("body") or "",
            "audience": data.get("audience") or "",
            "group": data.get("group"),
        }

    def clean(self):
        data = super().clean()
        if self.errors or data.get("incident") is None:
            return data
        try:
            self.rendered = services.communication_render(actor=self.actor, **self.message())
        except DomainError as exc:
            add_to_form(self, exc)
        return data


# The add form's buttons: "Preview" shows the rendered message; only "Send", posted with
# the fingerprint of the preview it confirms, sends.
SEND, PREVIEW_DIGEST = "_send", "preview_digest"


def _delivery_message(communication):
    """What the sender is told once the request has committed: the outbox's word for it."""
    status = getattr(communication, "delivery_status", None)
    who = f"“{communication.subject}” to {communication.recipient_count} recipient(s)"
    if status == "sent":
        return messages.SUCCESS, f"Sent {who}."
    if status == "failed":
        return (
            messages.ERROR,
            f"Not sent: {who} failed ({communication.delivery_error}). It will be retried; "
            "the list shows how it goes.",
        )
    return (
        messages.INFO,
        f"Queued {who}: it is not sent yet. The list shows when it has been sent.",
    )


@admin.register(Communication)
class CommunicationAdmin(VisibleIncidentMixin, ServiceAdmin):
    form = CommunicationForm
    change_form_template = "admin/incidents/communication/change_form.html"
    list_display = (
        "incident",
        "subject",
        "recipient_count",
        "sent_by_name",
        "queued_at",
        "delivery",
    )
    list_select_related = ("incident", "sent_by")
    search_fields = ("incident__reference", "subject")
    autocomplete_fields = ("incident",)
    sent_by_name = person_column("sent_by")

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:
            return (
                "incident",
                "template",
                "subject",
                "body",
                "audience",
                "group",
                "recipient_count",
                "sent_by_name",
                "queued_at",
                "delivery",
            )
        return ()

    def get_form(self, request, obj=None, **kwargs):
        # Django makes a new form class per call: the subclass carries this request's user
        # to the form's render without anything shared between requests holding it.
        form = super().get_form(request, obj, **kwargs)
        return type(form.__name__, (form,), {"actor": request.user})

    def get_queryset(self, request):
        return queries.with_delivery(super().get_queryset(request))

    @admin.display(description="queued at", ordering="sent_at")
    def queued_at(self, communication):
        return communication.sent_at

    @admin.display(description="email")
    def delivery(self, communication):
        return queries.delivery_text(communication)

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def add_view(self, request, form_url="", extra_context=None):
        """The first POST previews; a POST of "Send" confirming that same preview sends."""
        if request.method != "POST":
            return super().add_view(request, form_url, extra_context)
        if not self.has_add_permission(request):
            raise PermissionDenied
        fields = flatten_fieldsets(self.get_fieldsets(request))
        form = self.get_form(request, None, change=False, fields=fields)(request.POST)
        if not form.is_valid():
            return self._add_page(request, form, form_url)
        if SEND not in request.POST:
            return self._add_page(request, form, form_url, preview=form.rendered)
        if request.POST.get(PREVIEW_DIGEST) != form.rendered.digest:
            messages.warning(
                request,
                "The message or its recipients changed since the preview: check it and send again.",
            )
            return self._add_page(request, form, form_url, preview=form.rendered)
        response = super().add_view(request, form_url, extra_context)
        sent = getattr(request, "communication_sent", None)
        if sent is not None:  # committed by now: the outbox says how the email went
            sent = queries.with_delivery(Communication.objects.filter(pk=sent.pk)).get()
            messages.add_message(request, *_delivery_message(sent))
        return response

    def _add_page(self, request, form, form_url, preview=None):
        """The add page for a bound form, with its errors or the preview; saves nothing."""
        fieldsets = self.get_fieldsets(request)
        admin_form = helpers.AdminForm(
            form,
            list(fieldsets),
            self.get_prepopulated_fields(request),
            self.get_readonly_fields(request),
            model_admin=self,
        )
        context = {
            **self.admin_site.each_context(request),
            "title": "Check and send the communication" if preview else "Add communication",
            "subtitle": None,
            "adminform": admin_form,
            "object_id": None,
            "original": None,
            "is_popup": False,
            "to_field": None,
            "media": self.media + admin_form.media,
            "inline_admin_formsets": [],
            "errors": helpers.AdminErrorList(form, []),
            "preserved_filters": self.get_preserved_filters(request),
            "preview": preview,
            "preview_digest_name": PREVIEW_DIGEST,
            "send_name": SEND,
        }
        return self.render_change_form(request, context, add=True, change=False, form_url=form_url)

    def save_model(self, request, obj, form, change):
        digest = request.POST.get(PREVIEW_DIGEST)
        if SEND not in request.POST or not digest:
            raise InvalidInput("Preview the communication, then send it.")
        sent = services.communication_send(
            actor=request.user, expected_digest=digest, **form.message()
        )
        obj.pk = sent.pk
        obj._state.adding = False
        obj.refresh_from_db()

    def response_add(self, request, obj, post_url_continue=None):
        # Django would say "added successfully" before the email has gone anywhere; the
        # add view says how it went once the transaction has committed.
        request.communication_sent = obj
        return redirect("admin:incidents_communication_changelist")

"""The incident page as the coordinator's workspace: one small form per button, each posting to
its own admin view that calls the same service as the API, then back to the page with a message.

- Each view finds the incident through the change view's own `get_object` (its queryset is
  `queries.fully_visible_incidents`): an incident the reader may not see is a 404 here too.
- The buttons shown are those the reader may use: the phases `queries.allowed_steps` offers
  and the rest `queries.workspace_steps`; the services check it all again.
- A refusal (DomainError, ValidationError) becomes a message (`domain_error_message`); the
  service's transaction saved nothing.
- The page is extensible: its template (`admin/incidents/incident/change_form.html`) puts each
  part in a block (`workspace_targets`, `workspace_phases`, …, `workspace_extra`), and an admin
  mixin adds its own buttons with `workspace_views` and `workspace_context`.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.admin.widgets import AutocompleteSelect
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from core.admin import domain_error_message
from core.errors import DomainError

from .. import queries, services
from ..models import (
    Action,
    Communication,
    Incident,
    MessageTemplate,
    PostIncidentReview,
    Status,
    TeamMember,
)
from .common import span_words, state_html

User = get_user_model()

TARGET_LABELS = {
    "acknowledge": "Acknowledge",
    "contain": "Contain",
    "recover": "Recover",
    "update": "Next stakeholder update",
}


def _person_choice(model, field_name, *, label, required=True):
    """A person found by name, username or email (the admin's autocomplete), shown by full name."""
    field = forms.ModelChoiceField(
        queryset=User.objects.filter(is_active=True),
        required=required,
        label=label,
        widget=AutocompleteSelect(model._meta.get_field(field_name), admin.site),
    )
    field.label_from_instance = lambda user: user.get_full_name() or user.username
    return field


class StepForm(forms.Form):
    status = forms.ChoiceField(choices=Status.choices)
    reason = forms.CharField(
        required=False, max_length=services.REASON_MAX_LENGTH, widget=forms.Textarea
    )


class NoteForm(forms.Form):
    text = forms.CharField(label="Note", widget=forms.Textarea(attrs={"rows": 2, "cols": 60}))


class AssignForm(forms.Form):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["incident_manager"] = _person_choice(
            Incident, "incident_manager", label="Incident manager"
        )
        self.fields["reason"] = forms.CharField(
            required=False, label="Why (recorded in the history)", max_length=500
        )


class TeamForm(forms.Form):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"] = _person_choice(TeamMember, "user", label="Team member")
        self.fields["role"] = forms.ChoiceField(
            choices=TeamMember.Role.choices, initial=TeamMember.Role.RESPONDER
        )


class ActionForm(forms.Form):
    kind = forms.ChoiceField(choices=Action.Kind.choices)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2, "cols": 60}))
    due_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"] = _person_choice(Action, "owner", label="Owner", required=False)


class CommunicateForm(forms.Form):
    template = forms.ModelChoiceField(
        queryset=MessageTemplate.objects.filter(active=True), required=False
    )
    subject = forms.CharField(required=False, max_length=200)
    body = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Leave empty to use the template's.",
    )
    audience = forms.CharField(required=False, help_text="Email addresses, comma-separated.")
    group = forms.ModelChoiceField(queryset=Group.objects.order_by("name"), required=False)

    def message(self):
        data = self.cleaned_data
        return {
            name: data.get(name) or ("" if name in ("subject", "body", "audience") else None)
            for name in ("template", "subject", "body", "audience", "group")
        }


class ReviewForm(forms.ModelForm):
    class Meta:
        model = PostIncidentReview
        fields = services.REVIEW_FIELDS
        widgets = {
            name: forms.Textarea(attrs={"rows": 2, "cols": 60})
            for name in services.REVIEW_FIELDS
            if name != "plan_change_needed"
        }


# Each form's prefix on the page: their fields never clash with the change form's.
FORMS = {
    "note": NoteForm,
    "assign": AssignForm,
    "team": TeamForm,
    "action": ActionForm,
    "communicate": CommunicateForm,
}


def deadline_words(row, now):
    """A response target's line: its state, then "35 min left", "overdue by 2 h", "met"."""
    when = timezone.localtime(row.deadline).strftime("%d %b %H:%M")
    if row.done_at is not None:
        words = (
            f"met at {timezone.localtime(row.done_at).strftime('%d %b %H:%M')}"
            if row.state == queries.MET
            else (
                f"done at {timezone.localtime(row.done_at).strftime('%d %b %H:%M')}, "
                f"{span_words(row.done_at - row.deadline)} late"
            )
        )
    elif row.state is None:
        words = f"due {when}"
    elif row.deadline <= now:
        words = f"overdue by {span_words(now - row.deadline)} (due {when})"
    else:
        words = f"{span_words(row.deadline - now)} left (due {when})"
    state = state_html(row.state) if row.state else ""
    return format_html("{} {}", state, words)


class IncidentWorkspace:
    """The workspace's views and the change page's context; mixed into IncidentAdmin."""

    # The escalate form (the list's bulk action's own): set by IncidentAdmin.
    escalate_form = None
    workspace_views = (
        "step",
        "escalate",
        "note",
        "assign",
        "team",
        "action",
        "communicate",
        "review",
    )

    def get_urls(self):
        view = self.admin_site.admin_view
        urls = [
            path(
                f"<path:object_id>/workspace/{name}/",
                view(require_POST(getattr(self, f"workspace_{name}"))),
                name=f"incidents_incident_{name}",
            )
            for name in self.workspace_views
        ]
        return urls + super().get_urls()

    # -- the page ------------------------------------------------------------------------

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.pk is not None:
            context.update(self.workspace_context(request, obj))
            context["media"] = context["media"] + context["workspace_media"]
        return super().render_change_form(request, context, add, change, form_url, obj)

    def workspace_context(self, request, incident):
        """What the workspace part of the incident page shows: a fixed number of queries."""
        user, now = request.user, timezone.now()
        review = PostIncidentReview.objects.filter(incident=incident).first()
        may = queries.workspace_steps(user, incident, review)
        allowed = set(queries.allowed_steps(user, incident))
        steps = [(s.value, s.label) for s in Status if s in allowed]  # in lifecycle order
        targets = [
            {"label": TARGET_LABELS[row.name], "name": row.name, "words": deadline_words(row, now)}
            for row in queries.target_deadlines(incident, queries.targets_by_priority(), now)
        ]
        forms_ = {name: form(prefix=name) for name, form in FORMS.items() if name in may}
        if "escalate" in may:
            forms_["escalate"] = self.escalate_form(prefix="escalate")
        if "review" in may:
            forms_["review"] = ReviewForm(instance=review, prefix="review")
        media = forms.Media()
        for form in forms_.values():
            media += form.media
        communications = list(
            Communication.objects.filter(incident=incident)
            .select_related("sent_by")
            .order_by("-sent_at", "-id")[:5]
        )
        return {
            "workspace_may": may,
            "workspace_steps": steps,
            "workspace_targets": targets,
            "workspace_forms": forms_,
            "workspace_media": media,
            "workspace_review": review,
            "workspace_communications": communications,
            "workspace_communications_url": (
                reverse("admin:incidents_communication_changelist")
                + f"?incident__id__exact={incident.pk}"
            ),
        }

    # -- the buttons ---------------------------------------------------------------------

    def workspace_incident(self, request, object_id):
        """The incident as the change view finds it: invisible is 404, no view permission 403."""
        incident = self.get_object(request, unquote(object_id))
        if incident is None:
            raise Http404("No such incident.")
        if not self.has_view_permission(request, incident):
            raise PermissionDenied
        return incident

    def workspace_back(self, request, incident):
        """Back to the incident's page, or to the list once the reader may no longer see it
        (naming a confidential incident's manager hands it to its team)."""
        if not self.get_queryset(request).filter(pk=incident.pk).exists():
            self.message_user(
                request,
                f"{incident.reference} is confidential and now only its response team sees it: "
                "it has left your list.",
                messages.INFO,
            )
            return redirect("admin:incidents_incident_changelist")
        return redirect("admin:incidents_incident_change", incident.pk)

    def workspace_run(self, request, incident, service, done, /, **kwargs):
        """Call `service` as the reader; a refusal is a message, success says `done`."""
        try:
            result = service(actor=request.user, **kwargs)
        except (DomainError, ValidationError) as exc:
            domain_error_message(request, exc, about=incident.reference)
            return None
        messages.success(request, f"{incident.reference}: {done}")
        return result if result is not None else True

    def workspace_form(self, request, incident, form_class, prefix, **kwargs):
        """The posted form, valid; None (its errors said as messages) when it is not."""
        form = form_class(request.POST, prefix=prefix, **kwargs)
        if form.is_valid():
            return form
        for field, errors in form.errors.items():
            label = (
                form.fields[field].label or field.replace("_", " ") if field in form.fields else ""
            )
            for error in errors:
                messages.error(
                    request, f"{incident.reference}: {label + ': ' if label else ''}{error}"
                )
        return None

    def workspace_step(self, request, object_id):
        incident = self.workspace_incident(request, object_id)
        form = self.workspace_form(request, incident, StepForm, None)
        if form is not None:
            target = Status(form.cleaned_data["status"])
            self.workspace_run(
                request,
                incident,
                services.incident_transition,
                f"moved to {target.label.lower()}.",
                incident=incident,
                status=target,
                reason=form.cleaned_data["reason"],
            )
        return self.workspace_back(request, incident)

    def workspace_escalate(self, request, object_id):
        incident = self.workspace_incident(request, object_id)
        form = self.workspace_form(request, incident, self.escalate_form, "escalate")
        if form is not None:
            self.workspace_run(
                request,
                incident,
                services.incident_escalate,
                "escalated.",
                incident=incident,
                **form.cleaned_data,
            )
        return self.workspace_back(request, incident)

    def workspace_note(self, request, object_id):
        incident = self.workspace_incident(request, object_id)
        form = self.workspace_form(request, incident, NoteForm, "note")
        if form is not None:
            self.workspace_run(
                request,
                incident,
                services.timeline_note_add,
                "note added to the timeline.",
                incident=incident,
                text=form.cleaned_data["text"],
            )
        return self.workspace_back(request, incident)

    def workspace_assign(self, request, object_id):
        incident = self.workspace_incident(request, object_id)
        form = self.workspace_form(request, incident, AssignForm, "assign")
        if form is not None:
            manager = form.cleaned_data["incident_manager"]
            self.workspace_run(
                request,
                incident,
                services.incident_update,
                f"{manager.get_full_name() or manager.username} is the incident manager.",
                incident=incident,
                incident_manager=manager,
                reason=form.cleaned_data["reason"] or "Incident manager named",
            )
        return self.workspace_back(request, incident)

    def workspace_team(self, request, object_id):
        incident = self.workspace_incident(request, object_id)
        form = self.workspace_form(request, incident, TeamForm, "team")
        if form is not None:
            user = form.cleaned_data["user"]
            self.workspace_run(
                request,
                incident,
                services.team_member_add,
                f"{user.get_full_name() or user.username} is on the team.",
                incident=incident,
                user=user,
                role=form.cleaned_data["role"],
            )
        return self.workspace_back(request, incident)

    def workspace_action(self, request, object_id):
        incident = self.workspace_incident(request, object_id)
        form = self.workspace_form(request, incident, ActionForm, "action")
        if form is not None:
            self.workspace_run(
                request,
                incident,
                services.action_create,
                "action added.",
                incident=incident,
                **form.cleaned_data,
            )
        return self.workspace_back(request, incident)

    def workspace_communicate(self, request, object_id):
        """ "Preview" renders the update (placeholders filled, every recipient) on a page of its
        own; its "Send" posts the same fields with the preview's digest, and a message that
        changed since is refused (`communication_send`'s `expected_digest`)."""
        incident = self.workspace_incident(request, object_id)
        form = self.workspace_form(request, incident, CommunicateForm, "communicate")
        if form is None:
            return self.workspace_back(request, incident)
        if "_send" not in request.POST:
            try:
                rendered = services.communication_render(
                    incident=incident, actor=request.user, **form.message()
                )
            except (DomainError, ValidationError) as exc:
                domain_error_message(request, exc, about=incident.reference)
                return self.workspace_back(request, incident)
            context = {
                **self.admin_site.each_context(request),
                "title": f"Check and send the update on {incident.reference}",
                "opts": self.model._meta,
                "original": incident,
                "form": form,
                "preview": rendered,
            }
            return TemplateResponse(
                request, "admin/incidents/incident/communicate_preview.html", context
            )
        self.workspace_run(
            request,
            incident,
            services.communication_send,
            "update queued for sending.",
            incident=incident,
            expected_digest=request.POST.get("digest", ""),
            **form.message(),
        )
        return self.workspace_back(request, incident)

    def workspace_review(self, request, object_id):
        """Save the draft review; "Complete" saves it, then completes it."""
        incident = self.workspace_incident(request, object_id)
        review = PostIncidentReview.objects.filter(incident=incident).first()
        form = self.workspace_form(request, incident, ReviewForm, "review", instance=review)
        if form is None:
            return self.workspace_back(request, incident)
        fields = {name: form.cleaned_data[name] for name in services.REVIEW_FIELDS}
        saved = self.workspace_run(
            request, incident, services.review_save, "review saved.", incident=incident, **fields
        )
        if saved and "_complete" in request.POST:
            self.workspace_run(
                request,
                incident,
                services.review_complete,
                "review completed.",
                incident=incident,
            )
        return self.workspace_back(request, incident)

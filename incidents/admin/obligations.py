"""Notification obligations in the admin: the obligations themselves (configuration), and on
each incident their states, due times and what was sent, with the steps that record it
(submit, not applicable, when the organisation became aware, classified as major).

`IncidentObligationsMixin` is mixed into IncidentAdmin; it adds its own fieldset, list filter,
column and pages, so the incident workspace (admin/incident.py) only names it.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from core.admin import ReadOnlyAdmin, ServiceAdmin, domain_error_message, person_column
from core.errors import DomainError

from .. import queries, services
from ..models import Obligation, ObligationSubmission, ObligationWaiver
from .common import VisibleIncidentMixin, span_words

STATE_COLOURS = {
    queries.PENDING: "#57606a",
    queries.AT_RISK: "#9a6700",
    queries.BREACHED: "#b42318",
    queries.MET: "#1a7f37",
    queries.MISSED: "#b42318",
    queries.NOT_APPLICABLE: "#57606a",
}


def obligation_state_html(state):
    if state is None:
        return "—"
    return format_html(
        '<span style="color:{};font-weight:600">{}</span>',
        STATE_COLOURS[state],
        queries.OBLIGATION_STATE_LABELS[state],
    )


def obligations_of(incident, now=None):
    """(rows, submissions, waivers) of `incident`'s obligations, read once for the page that
    shows them twice (the "Notification obligations" section and the workspace): three
    queries, whether or not its category has any."""
    read = getattr(incident, "_obligations_read", None)
    if read is None:
        rows = list(queries.incident_obligations(incident, now=now))
        read = incident._obligations_read = (rows, *queries.obligation_records(incident))
    return read


def when(moment):
    """A time in the reader's zone, the zone named."""
    if moment is None:
        return "—"
    return timezone.localtime(moment).strftime("%d %b %Y %H:%M %Z")


def obligation_clock_words(row, submission, now):
    """An obligation's clock in words: "sent 02 Dec 14:05", "31 h left (due …)", "overdue by
    2 h (due …)", or why it has no due time yet."""
    if submission is not None:
        return f"sent {when(submission.submitted_at)} to {submission.recipient}"
    if row.due_at is None:
        return "due once the one before it is sent"
    if row.due_at <= now:
        return f"overdue by {span_words(now - row.due_at)} (due {when(row.due_at)})"
    return f"{span_words(row.due_at - now)} left (due {when(row.due_at)})"


@admin.register(Obligation)
class ObligationAdmin(ServiceAdmin):
    create_service, update_service = services.CONFIGURATION_SERVICES[Obligation]
    service_fields, service_object = services.OBLIGATION_FIELDS, "obligation"
    list_display = ("name", "category", "authority", "deliverable", "deadline", "active")
    list_filter = ("category", "deliverable", "active")
    list_select_related = ("category", "previous")
    search_fields = ("name", "authority")
    autocomplete_fields = ("category",)

    @admin.display(description="due")
    def deadline(self, obligation):
        parts = []
        if obligation.deadline_months:
            parts.append(f"{obligation.deadline_months} month(s)")
        if obligation.deadline_hours:
            parts.append(f"{obligation.deadline_hours} h")
        text = " + ".join(parts) + f" after: {obligation.get_anchor_display().lower()}"
        if obligation.previous_id:
            text += f" ({obligation.previous.name})"
        if obligation.cap_hours:
            text += f"; at most {obligation.cap_hours} h after becoming aware"
        return text


@admin.register(ObligationSubmission)
class ObligationSubmissionAdmin(VisibleIncidentMixin, ReadOnlyAdmin):
    """What was sent, read-only (recorded from the incident's page or the API)."""

    list_display = ("incident", "obligation", "submitted_at", "recipient", "reference", "by")
    list_select_related = ("incident", "obligation", "submitted_by")
    search_fields = ("incident__reference", "reference", "recipient")
    by = person_column("submitted_by", "submitted by")


@admin.register(ObligationWaiver)
class ObligationWaiverAdmin(VisibleIncidentMixin, ReadOnlyAdmin):
    list_display = ("incident", "obligation", "reason", "decided_at", "by")
    list_select_related = ("incident", "obligation", "decided_by")
    by = person_column("decided_by", "decided by")


class ObligationStateFilter(admin.SimpleListFilter):
    title = "notification obligations"
    parameter_name = "obligation"

    def lookups(self, request, model_admin):
        return [(state, label) for state, label in queries.OBLIGATION_STATE_LABELS.items()]

    def queryset(self, request, queryset):
        if self.value() in queries.OBLIGATION_STATES:
            return queryset.filter(queries.obligation_state_filter(self.value()))
        return queryset


class SubmitForm(forms.Form):
    submitted_at = forms.DateTimeField(required=False, label="Sent at (empty: now; your time zone)")
    recipient = forms.CharField(max_length=200, label="Sent to")
    reference = forms.CharField(max_length=200, required=False, label="Their reference")
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}), required=False)
    attachment = forms.CharField(max_length=500, required=False, label="Attachment (name or link)")


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), label="Why (recorded)")


class AwareForm(ReasonForm):
    aware_at = forms.DateTimeField(label="Became aware at (your time zone)")


class IncidentObligationsMixin:
    """The obligations on the incident admin (see the module's docstring)."""

    obligation_fieldset = (
        "Notification obligations",
        {"fields": ("aware_display", "obligations_display")},
    )

    def get_list_filter(self, request):
        return (*super().get_list_filter(request), ObligationStateFilter)

    def get_readonly_fields(self, request, obj=None):
        return (*super().get_readonly_fields(request, obj), "aware_display", "obligations_display")

    def get_fieldsets(self, request, obj=None):
        fieldsets = list(super().get_fieldsets(request, obj))
        if obj is not None and obj.category_id is not None:
            fieldsets.append(self.obligation_fieldset)
        return fieldsets

    @admin.display(description="notify")
    def obligation_column(self, obj):
        return obligation_state_html(getattr(obj, "obligation_state", None))

    def _link(self, name, *args):
        return reverse(f"admin:incidents_incident_{name}", args=args)

    @admin.display(description="aware since")
    def aware_display(self, obj):
        shown = when(queries.aware_at(obj))
        if obj.aware_at is None:
            shown += " (the report time)"
        links = [(self._link("aware", obj.pk), "change")]
        if obj.classified_major_at is None:
            links.append((self._link("classify_major", obj.pk), "classify as major"))
        major = (
            format_html("; classified as major {}", when(obj.classified_major_at))
            if obj.classified_major_at
            else ""
        )
        return format_html(
            "{}{} · {}",
            shown,
            major,
            format_html_join(" · ", '<a href="{}">{}</a>', links),
        )

    @admin.display(description="obligations")
    def obligations_display(self, obj):
        rows, submissions, waivers = obligations_of(obj)
        if not rows:
            return "None for this category."
        lines = []
        for row in rows:
            if row.pk in submissions:
                s = submissions[row.pk]
                detail = format_html(
                    "sent {} to {}{}",
                    when(s.submitted_at),
                    s.recipient,
                    f" (ref. {s.reference})" if s.reference else "",
                )
            elif row.pk in waivers:
                detail = format_html("not applicable: {}", waivers[row.pk].reason)
            elif row.state == queries.NOT_APPLICABLE:
                detail = "the incident was cancelled"
            else:
                detail = format_html(
                    '<a href="{}">record the submission</a> · <a href="{}">not applicable…</a>',
                    self._link("obligation_submit", obj.pk, row.pk),
                    self._link("obligation_not_applicable", obj.pk, row.pk),
                )
            due = when(row.due_at) if row.due_at else "when the previous one is sent"
            lines.append((row.name, row.authority, due, obligation_state_html(row.state), detail))
        return format_html(
            "<table><thead><tr><th>obligation</th><th>to</th><th>due</th><th>state</th>"
            "<th></th></tr></thead><tbody>{}</tbody></table>",
            format_html_join(
                "", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", lines
            ),
        )

    def workspace_context(self, request, incident):
        """The workspace's "Notification obligations" part: each obligation's clock (time
        left, or overdue by) and, for those still to send, the form recording the submission
        on the incident's own page (it posts to the submission page, which comes back here)."""
        context = super().workspace_context(request, incident)
        now = timezone.now()
        may = context["workspace_may"]
        rows, submissions, waivers = obligations_of(incident, now=now)
        shown = []
        for row in rows:
            entry = {
                "name": row.name,
                "authority": row.authority,
                "state": obligation_state_html(row.state),
                "words": obligation_clock_words(row, submissions.get(row.pk), now),
            }
            if row.pk in waivers:
                entry["words"] = f"not applicable: {waivers[row.pk].reason}"
            open_ = row.pk not in submissions and row.pk not in waivers and incident.is_open
            if open_ and row.due_at is not None and "submit_obligation" in may:
                entry["form"] = SubmitForm(
                    initial={"recipient": row.authority}, auto_id=f"id_obligation{row.pk}_%s"
                )
                entry["submit_url"] = self._link("obligation_submit", incident.pk, row.pk)
            if open_ and "waive_obligation" in may:
                entry["waive_url"] = self._link("obligation_not_applicable", incident.pk, row.pk)
            shown.append(entry)
        context["workspace_obligations"] = shown
        return context

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/obligations/<int:obligation_id>/submit/",
                view(self.obligation_submit_view),
                name="incidents_incident_obligation_submit",
            ),
            path(
                "<int:pk>/obligations/<int:obligation_id>/not-applicable/",
                view(self.obligation_not_applicable_view),
                name="incidents_incident_obligation_not_applicable",
            ),
            path("<int:pk>/aware/", view(self.aware_view), name="incidents_incident_aware"),
            path(
                "<int:pk>/classify-major/",
                view(self.classify_major_view),
                name="incidents_incident_classify_major",
            ),
        ] + super().get_urls()

    def _form_page(self, request, pk, form_class, title, apply, initial=None):
        """A form about one incident the reader sees in full (else 404), then the service."""
        incident = get_object_or_404(self.get_queryset(request), pk=pk)
        form = form_class(request.POST or None, initial=initial)
        if request.method == "POST" and form.is_valid():
            try:
                apply(incident, form.cleaned_data)
            except (DomainError, ValidationError) as exc:
                domain_error_message(request, exc, about=incident.reference)
            else:
                messages.success(request, f"{incident.reference}: {title.lower()} recorded.")
                return redirect("admin:incidents_incident_change", incident.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": f"{title} · {incident.reference}",
            "form": form,
            "incident": incident,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/incidents/incident/obligation_form.html", context)

    def _obligation(self, incident_pk, obligation_id):
        return get_object_or_404(Obligation, pk=obligation_id)

    def obligation_submit_view(self, request, pk, obligation_id):
        obligation = self._obligation(pk, obligation_id)
        return self._form_page(
            request,
            pk,
            SubmitForm,
            f"Submission of {obligation.name}",
            lambda incident, data: services.obligation_submit(
                incident=incident,
                obligation=obligation,
                actor=request.user,
                **{**data, "submitted_at": data.get("submitted_at") or None},
            ),
            initial={"recipient": obligation.authority},
        )

    def obligation_not_applicable_view(self, request, pk, obligation_id):
        obligation = self._obligation(pk, obligation_id)
        return self._form_page(
            request,
            pk,
            ReasonForm,
            f"{obligation.name} not applicable",
            lambda incident, data: services.obligation_not_applicable(
                incident=incident, obligation=obligation, actor=request.user, **data
            ),
        )

    def aware_view(self, request, pk):
        return self._form_page(
            request,
            pk,
            AwareForm,
            "When the organisation became aware",
            lambda incident, data: services.incident_set_aware(
                incident=incident, actor=request.user, **data
            ),
        )

    def classify_major_view(self, request, pk):
        return self._form_page(
            request,
            pk,
            ReasonForm,
            "Classified as major",
            lambda incident, data: services.incident_classify_major(
                incident=incident, actor=request.user, **data
            ),
        )

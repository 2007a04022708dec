"""The coordinators' workspace: incidents with team, actions and timeline inline, phase and escalation actions, the dashboard."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.contrib.admin.widgets import AutocompleteSelect
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.dates import MONTHS_3
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from core.admin import (
    EvidenceBundleAdmin,
    ServiceAdmin,
    person_column,
)
from core.admin_list import escaped
from core.history_diff import person_name
from core.pagination import CountedPaginator
from core.people import person_label

from .. import bundle, queries, services
from ..models import (
    Action,
    Escalation,
    EscalationLevel,
    Incident,
    PostIncidentReview,
    Status,
    TeamMember,
    TimelineEntry,
)
from . import dashboard
from .attachments import ATTACHMENT_INLINES
from .common import (
    UNCLASSIFIED_LABEL,
    CategoryFilter,
    IncidentManagerFilter,
    OpenFilter,
    PlanVersionFilter,
    ReadinessFilter,
    ReopenedFilter,
    TargetStateFilter,
    for_each,
    state_html,
    worst_target_html,
)
from .inlines import ActionInline, EscalationInline, TeamMemberInline, TimelineInline
from .obligations import IncidentObligationsMixin, obligation_state_html
from .workspace import IncidentWorkspace

User = get_user_model()


# The change page's "Phases": when each was reached, reopenings, the review.
PHASE_FIELDS = (
    "acknowledged_at",
    "contained_at",
    "recovered_at",
    "closed_at",
    "reopened_count",
    "review_link",
)


class IncidentForm(forms.ModelForm):
    class Meta:
        model = Incident
        fields = (
            "title",
            "description",
            "occurred_at",
            "affected_service",
            "observed_impact",
            "actions_taken",
            "category",
            "impact",
            "urgency",
            "confidential",
            "anonymous",
            "incident_manager",
        )


class TransitionForm(forms.Form):
    """The bulk step: only the statuses some selected incident may move to (`steps`); one the
    others may not take is refused per incident, with a message naming it."""

    status = forms.ChoiceField(choices=Status.choices, label="Move to")
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        label="Why (recorded in the history)",
    )

    def __init__(self, *args, steps=None, **kwargs):
        super().__init__(*args, **kwargs)
        if steps is not None:
            self.fields["status"].choices = [(s.value, s.label) for s in Status if s in steps]


class EscalateForm(forms.Form):
    level = forms.ChoiceField(choices=EscalationLevel.choices)
    # Found by name, username or email (the admin's autocomplete), never a list of everyone.
    to_user = forms.ModelChoiceField(
        queryset=User.objects.filter(is_active=True),
        required=False,
        label="To person",
        widget=AutocompleteSelect(Escalation._meta.get_field("to_user"), admin.site),
    )
    to_group = forms.ModelChoiceField(
        queryset=Group.objects.order_by("name"), required=False, label="Or to group"
    )
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), label="Why")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_user"].label_from_instance = person_label

    def clean(self):
        data = super().clean()
        if bool(data.get("to_user")) == bool(data.get("to_group")):
            raise forms.ValidationError("Choose a person or a group (one of them).")
        return data


class IncidentChangeList(ChangeList):
    """The list's rows carry the worst state of their notification obligations (the target
    column); only the list's own query computes it, not the filters' choices, the counts or
    the incident's page."""

    def get_queryset(self, request, exclude_parameters=None):
        return queries.with_worst_obligation(super().get_queryset(request, exclude_parameters))


@admin.register(Incident)
class IncidentAdmin(EvidenceBundleAdmin, IncidentObligationsMixin, IncidentWorkspace, ServiceAdmin):
    form = IncidentForm
    escalate_form = EscalateForm  # the workspace's "Escalate" is the bulk action's form
    create_service = services.incident_report
    update_service = services.incident_update
    service_fields = (*services.DESCRIPTIVE_FIELDS, "anonymous")
    list_display = (
        "reference",
        "title",
        "priority",
        "status",
        "manager",
        "late",
        # then the target column, built per request (get_list_display)
    )
    list_display_links = ("reference", "title")
    list_filter = (
        OpenFilter,
        "status",
        "priority",
        ("category", CategoryFilter),
        TargetStateFilter,
        "is_late",
        "confidential",
        ("incident_manager", IncidentManagerFilter),
        ("reported_at", admin.DateFieldListFilter),
        ReopenedFilter,
        PlanVersionFilter,
        ReadinessFilter,
    )
    list_select_related = ("category", "incident_manager")
    manager = person_column("incident_manager", "manager")
    search_fields = ("reference", "title", "affected_service")
    autocomplete_fields = ("category", "incident_manager")
    ordering = ("-reported_at", "-id")
    inlines = (
        TeamMemberInline,
        ActionInline,
        EscalationInline,
        TimelineInline,
        *ATTACHMENT_INLINES,
    )
    actions = ("transition_selected", "escalate_selected")
    readonly_fields = (
        "reference",
        "priority",
        "status",
        "is_late",
        "reported_at",
        "reporter_display",
        "reporter_masked",
        "plan_version_link",
        "targets_display",
        *PHASE_FIELDS,
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "reference",
                    "title",
                    "description",
                    "occurred_at",
                    "reported_at",
                    "is_late",
                )
            },
        ),
        (
            "Where and what",
            {
                "fields": (
                    "affected_service",
                    "observed_impact",
                    "actions_taken",
                    "category",
                    "plan_version_link",
                )
            },
        ),
        (
            "Classification",
            {"fields": ("impact", "urgency", "priority", "status", "targets_display")},
        ),
        (
            "People",
            {"fields": ("incident_manager", "reporter_display", "anonymous", "confidential")},
        ),
        (
            "Phases",
            {"fields": PHASE_FIELDS},
        ),
    )
    change_list_template = "admin/incidents/incident/change_list.html"

    def evidence_bundle(self, request, obj):
        return bundle.incident_bundle(obj, request.user)

    def get_queryset(self, request):
        # The admin is the response team's workspace: a coordinator who only reported a
        # confidential incident reads it in the self-service pages, not here with its inlines.
        return queries.fully_visible_incidents(request.user).select_related(
            "category", "incident_manager", "reporter"
        )

    def get_changelist(self, request, **kwargs):
        return IncidentChangeList

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        # The total without a row-by-row count when nothing narrows the list (p: page,
        # o: sort); see queries.visible_count.
        narrowed = not set(request.GET) <= {"p", "o"}
        return CountedPaginator(
            queryset,
            per_page,
            orphans,
            allow_empty_first_page,
            count_rows=lambda rows: queries.visible_count(request.user, rows, narrowed=narrowed),
        )

    def get_list_display(self, request):
        """The target column is built per request with the targets it needs, loaded once per
        page: the admin instance is shared by every request (and thread), so it keeps none;
        the request does (Django asks for the columns twice a page)."""
        targets = getattr(request, "_response_targets", None)
        if targets is None:
            targets = request._response_targets = queries.targets_by_priority()
        now = timezone.now()

        @admin.display(description="target")
        def target_state(obj):
            state, deadline = queries.worst_target(obj, targets, now)
            shown = worst_target_html(state, deadline, now)
            # The worst notification obligation, under the target (one column: the list
            # fits 1366 px with the navigation open).
            notify = getattr(obj, "obligation_state", None)
            if notify is None:
                return shown
            return format_html("{}<br>notify: {}", shown, obligation_state_html(notify))

        return [*self.list_display, target_state]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields.append("anonymous")
        return fields

    @admin.display(description="category", ordering="category__name")
    def kind(self, obj):
        return obj.category.name if obj.category_id else UNCLASSIFIED_LABEL

    @admin.display(description="reported", ordering="reported_at")
    def late(self, obj):
        # When, and late in words (a tick for "late" read as "all is well").
        # "j M, H:i" as date_format gives it, without its format lookups per row.
        moment = timezone.localtime(obj.reported_at)
        shown = f"{moment.day} {MONTHS_3[moment.month].title()}, {moment:%H:%M}"
        return mark_safe(f"{escaped(shown)}<br>{'reported late' if obj.is_late else 'on time'}")

    @admin.display(description="reporter")
    def reporter_display(self, obj):
        if obj is None or obj.reporter_id is None:
            return "—"
        return person_name(obj.reporter)

    @admin.display(description="reporter")
    def reporter_masked(self, obj):
        if obj is not None and obj.anonymous:
            return "Anonymous (visible to compliance only)"
        return self.reporter_display(obj)

    def get_fieldsets(self, request, obj=None):
        """Who may not see anonymous reporters gets `reporter_masked` (chosen per request:
        the admin instance is shared by every request, so it must not remember a user)."""
        fieldsets = super().get_fieldsets(request, obj)
        if queries.sees_reporter_identity(request.user):
            return fieldsets
        swap = {"reporter_display": "reporter_masked"}
        return [
            (name, {**options, "fields": tuple(swap.get(f, f) for f in options["fields"])})
            for name, options in fieldsets
        ]

    @admin.display(description="plan in force when reported")
    def plan_version_link(self, obj):
        if obj is None or obj.plan_version_id is None:
            return "—"
        url = reverse("admin:plans_planversion_change", args=[obj.plan_version_id])
        return format_html('<a href="{}">{}</a>', url, obj.plan_version)

    @admin.display(description="response targets")
    def targets_display(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        states = queries.target_states(obj, queries.targets_by_priority())
        parts = []
        for name in ("acknowledge", "contain", "recover", "update"):
            state = getattr(states, name)
            if state:
                parts.append(format_html("{}: {}", name, state_html(state)))
        if states.next_update_due:
            parts.append(
                format_html("next update due {}", states.next_update_due.strftime("%d %b %H:%M"))
            )
        return (
            format_html("<br>".join(["{}"] * len(parts)), *parts)
            if parts
            else "no targets for this priority"
        )

    @admin.display(description="post-incident review")
    def review_link(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        review = PostIncidentReview.objects.filter(incident=obj).first()
        if review is None:
            url = reverse("admin:incidents_postincidentreview_add") + f"?incident={obj.pk}"
            return format_html('<a href="{}">Write the review</a>', url)
        url = reverse("admin:incidents_postincidentreview_change", args=[review.pk])
        return format_html('<a href="{}">{}</a>', url, review.get_status_display())

    # The incident's history page tells the whole story: its own changes and those of its
    # team, actions, escalations, communications and review (core.admin_history).
    history_children = (
        "team",
        "actions",
        "escalations",
        "communications",
        "review",
        "attachments",
        "obligation_submissions",
        "obligation_waivers",
    )

    def history_mask(self, request, obj):
        # The API's rule too: anonymous reporters stay hidden in the history.
        return queries.history_mask(request.user, obj)

    def service_data(self, request, form, change):
        data = super().service_data(request, form, change)
        if not change:
            return data
        data.pop("anonymous", None)  # fixed by the report (read-only once reported)
        # Naming the manager hands a confidential incident to its team, out of sight of
        # an intake member who is not on it: named last (save_related), after the team
        # inline, so one save can classify, name the team and name the manager. Kept on
        # this request's instance, never on the shared admin.
        if "incident_manager" in data:
            form.instance._manager_named_last = data.pop("incident_manager")
        return {**data, "reason": self.change_reason} if data else data

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:
            obj.refresh_from_db()

    def response_change(self, request, obj):
        # Naming a confidential incident's manager hands it to its team: an intake member
        # outside it is told so and sent to the list, not to a page that no longer exists.
        if not self.get_queryset(request).filter(pk=obj.pk).exists():
            self.message_user(
                request,
                f"{obj.reference} was saved. It is confidential and now only its response team "
                "sees it: it has left your list.",
                messages.SUCCESS,
            )
            return redirect("admin:incidents_incident_changelist")
        return super().response_change(request, obj)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if "_manager_named_last" in form.instance.__dict__:
            services.incident_update(
                incident=form.instance,
                actor=request.user,
                reason=self.change_reason,
                incident_manager=form.instance.__dict__.pop("_manager_named_last"),
            )

    def save_formset(self, request, form, formset, change):
        """Team, actions and notes go through the services (timeline entries, history reasons)."""
        # The admin's change message reads what the formset saved; ours saves through services.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        save = {
            TeamMember: self._save_team,
            Action: self._save_actions,
            TimelineEntry: self._save_notes,
        }.get(formset.model)
        if save is None:
            return super().save_formset(request, form, formset, change)
        save(request, form.instance, formset)

    def _save_team(self, request, incident, formset):
        for subform in formset.forms:
            if not subform.has_changed() and subform.instance.pk is None:
                continue
            if subform in formset.deleted_forms and subform.instance.pk:
                services.team_member_remove(member=subform.instance, actor=request.user)
                formset.deleted_objects.append(subform.instance)
            elif subform.has_changed() and subform.cleaned_data.get("user"):
                member = services.team_member_add(
                    incident=incident,
                    actor=request.user,
                    user=subform.cleaned_data["user"],
                    role=subform.cleaned_data["role"],
                )
                formset.new_objects.append(member)

    def _save_actions(self, request, incident, formset):
        for subform in formset.forms:
            if not subform.has_changed():
                continue
            data = {name: subform.cleaned_data.get(name) for name in services.ACTION_FIELDS}
            if subform.instance.pk:
                action = services.action_update(action=subform.instance, actor=request.user, **data)
                formset.changed_objects.append((action, subform.changed_data))
            else:
                data.pop("status")
                action = services.action_create(incident=incident, actor=request.user, **data)
                formset.new_objects.append(action)

    def _save_notes(self, request, incident, formset):
        for subform in formset.forms:
            text = subform.cleaned_data.get("text") if subform.has_changed() else None
            if subform.instance.pk is None and text:
                note = services.timeline_note_add(incident=incident, actor=request.user, text=text)
                formset.new_objects.append(note)

    def _bulk_form(self, request, queryset, form_class, title, action_name, apply, **form_kwargs):
        """An intermediate page: a form for the selected incidents, then the service per incident."""
        if "apply" in request.POST:
            form = form_class(request.POST, **form_kwargs)
            if form.is_valid():
                done = for_each(
                    request,
                    queryset,
                    lambda incident: apply(incident, form.cleaned_data),
                    name=lambda incident: incident.reference,
                )
                if done:
                    messages.success(request, f"{title}: {done} incident(s) done.")
                return None
        else:
            form = form_class(**form_kwargs)
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "form": form,
            "queryset": queryset,
            "action_name": action_name,
            "opts": self.model._meta,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/incidents/incident/bulk_form.html", context)

    @admin.action(description="Move selected incidents to another phase…", permissions=["change"])
    def transition_selected(self, request, queryset):
        steps = {
            step for incident in queryset for step in queries.allowed_steps(request.user, incident)
        }
        if not steps:
            messages.warning(request, "None of the selected incidents may move to another phase.")
            return None
        return self._bulk_form(
            request,
            queryset,
            TransitionForm,
            "Move to another phase",
            "transition_selected",
            lambda incident, data: services.incident_transition(
                incident=incident, actor=request.user, status=data["status"], reason=data["reason"]
            ),
            steps=steps,
        )

    @admin.action(description="Escalate selected incidents…", permissions=["change"])
    def escalate_selected(self, request, queryset):
        return self._bulk_form(
            request,
            queryset,
            EscalateForm,
            "Escalate",
            "escalate_selected",
            lambda incident, data: services.incident_escalate(
                incident=incident, actor=request.user, **data
            ),
        )

    def get_urls(self):
        urls = super().get_urls()
        return [
            path(
                "dashboard/",
                self.admin_site.admin_view(self.dashboard_view),
                name="incidents_incident_dashboard",
            ),
        ] + urls

    def index_pages(self, request):
        """The dashboard, listed on the admin index and in the navigation beside Incidents."""
        if not self.has_view_permission(request):
            return []
        return [
            (
                "Incident dashboard",
                "IncidentDashboard",
                reverse("admin:incidents_incident_dashboard"),
            )
        ]

    def dashboard_view(self, request):
        if not self.has_view_permission(request):
            return redirect("admin:index")
        context = dashboard.dashboard_context(request)
        if request.GET.get("export") == "csv" and context["m"] is not None:
            return dashboard.dashboard_csv(context)
        context |= {
            **self.admin_site.each_context(request),
            "title": "Incident dashboard",
            "opts": self.model._meta,
            "obligations": queries.obligation_counts(request.user),
        }
        return TemplateResponse(request, "admin/incidents/incident/dashboard.html", context)

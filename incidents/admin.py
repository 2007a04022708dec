"""The coordinators' workspace: incidents with team, actions and timeline inline, phase and escalation actions, the dashboard."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import flatten_fieldsets
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from core.admin import AuditedAdmin
from core.errors import DomainError, InvalidInput, add_to_form
from core.mail import parse_addresses
from core.pagination import CountedPaginator

from . import queries, services
from .models import (
    Action,
    Category,
    Communication,
    Escalation,
    EscalationLevel,
    EscalationRule,
    Incident,
    MessageTemplate,
    PostIncidentReview,
    ResponseTarget,
    Status,
    TeamMember,
    TimelineEntry,
)

User = get_user_model()

STATE_LABELS = {
    queries.MET: ("met", "#1a7f37"),
    queries.PENDING: ("pending", "#57606a"),
    queries.AT_RISK: ("at risk", "#9a6700"),
    queries.BREACHED: ("breached", "#b42318"),
    queries.MISSED: ("missed", "#b42318"),
}


def _domain_error(request, exc):
    messages.error(request, exc.message)


class RefusalsAsMessages:
    """A service's refusal (a DomainError) on an add or change form is a message on the page.

    Django runs the form's saves in one transaction; the error leaves it, so nothing
    the form saved before the refusal is kept, and the page is shown again.
    """

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as exc:
            _domain_error(request, exc)
            return redirect(request.get_full_path())


class VisibleIncidentMixin(RefusalsAsMessages):
    """Records of incidents the admin user may not see do not exist for them."""

    incident_path = "incident"

    def get_queryset(self, request):
        visible = queries.fully_visible_incidents(request.user).values("pk")
        return super().get_queryset(request).filter(**{f"{self.incident_path}__in": visible})

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "incident":
            kwargs["queryset"] = queries.fully_visible_incidents(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class TargetStateFilter(admin.SimpleListFilter):
    title = "response targets"
    parameter_name = "targets"

    def lookups(self, request, model_admin):
        return (("breached", "Breached now"),)

    def queryset(self, request, queryset):
        if self.value() == "breached":
            return queryset.filter(queries.breached_filter())
        return queryset


class OpenFilter(admin.SimpleListFilter):
    title = "open or closed"
    parameter_name = "open"

    def lookups(self, request, model_admin):
        return (("yes", "Open"), ("no", "Closed or cancelled"))

    def queryset(self, request, queryset):
        from .models import OPEN_STATUSES

        if self.value() == "yes":
            return queryset.filter(status__in=OPEN_STATUSES)
        if self.value() == "no":
            return queryset.exclude(status__in=OPEN_STATUSES)
        return queryset


UNCLASSIFIED_LABEL = "Unclassified (awaiting triage)"


class CategoryFilter(admin.RelatedFieldListFilter):
    """The category filter, whose "no category" choice says what it means."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.empty_value_display = UNCLASSIFIED_LABEL


class TeamMemberInline(admin.TabularInline):
    model = TeamMember
    extra = 0
    autocomplete_fields = ("user",)
    fields = ("user", "role", "added_at")
    readonly_fields = ("added_at",)


class ActionInline(admin.TabularInline):
    model = Action
    extra = 0
    autocomplete_fields = ("owner",)
    fields = ("kind", "description", "owner", "due_date", "status", "completed_at")
    readonly_fields = ("completed_at",)
    can_delete = False


class TimelineInline(admin.TabularInline):
    """The timeline: read it here; new lines are notes, added through the service."""

    model = TimelineEntry
    extra = 1
    fields = ("created_at", "kind", "author", "text")
    readonly_fields = ("created_at", "kind", "author")
    can_delete = False
    ordering = ("-created_at", "-id")

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("author")


class EscalationInline(admin.TabularInline):
    model = Escalation
    extra = 0
    fields = (
        "created_at",
        "level",
        "to_user",
        "to_group",
        "reason",
        "escalated_by",
        "automatic",
        "acknowledged_at",
        "delivery",
    )
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return queries.with_delivery(
            super().get_queryset(request).select_related("to_user", "to_group", "escalated_by")
        )

    @admin.display(description="email")
    def delivery(self, escalation):
        return queries.delivery_text(escalation)


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
    status = forms.ChoiceField(choices=Status.choices, label="Move to")
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        label="Why (recorded in the history)",
    )


class EscalateForm(forms.Form):
    level = forms.ChoiceField(choices=EscalationLevel.choices)
    to_user = forms.ModelChoiceField(
        queryset=User.objects.filter(is_active=True).order_by("username"),
        required=False,
        label="To person",
    )
    to_group = forms.ModelChoiceField(
        queryset=Group.objects.order_by("name"), required=False, label="Or to group"
    )
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), label="Why")

    def clean(self):
        data = super().clean()
        if bool(data.get("to_user")) == bool(data.get("to_group")):
            raise forms.ValidationError("Choose a person or a group (one of them).")
        return data


@admin.register(Incident)
class IncidentAdmin(RefusalsAsMessages, AuditedAdmin):
    form = IncidentForm
    list_display = (
        "reference",
        "title",
        "priority",
        "status",
        "kind",
        "incident_manager",
        "reported_at",
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
    )
    list_select_related = ("category", "incident_manager")
    search_fields = ("reference", "title", "affected_service")
    autocomplete_fields = ("category", "incident_manager")
    ordering = ("-reported_at", "-id")
    inlines = (TeamMemberInline, ActionInline, EscalationInline, TimelineInline)
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
        "acknowledged_at",
        "contained_at",
        "recovered_at",
        "closed_at",
        "reopened_count",
        "review_link",
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
            {
                "fields": (
                    "acknowledged_at",
                    "contained_at",
                    "recovered_at",
                    "closed_at",
                    "reopened_count",
                    "review_link",
                )
            },
        ),
    )
    change_list_template = "admin/incidents/incident/change_list.html"

    def get_queryset(self, request):
        # The admin is the response team's workspace: a coordinator who only reported a
        # confidential incident reads it in the self-service pages, not here with its inlines.
        return queries.fully_visible_incidents(request.user).select_related(
            "category", "incident_manager", "reporter"
        )

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
        page: the admin instance is shared by every request (and thread), so it keeps none."""
        targets = queries.targets_by_priority()

        @admin.display(description="targets")
        def target_state(obj):
            state = queries.target_states(obj, targets).worst
            if state is None:
                return "—"
            label, colour = STATE_LABELS[state]
            return format_html('<span style="color:{};font-weight:600">{}</span>', colour, label)

        return [*self.list_display, target_state]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields.append("anonymous")
        return fields

    @admin.display(description="category", ordering="category__name")
    def kind(self, obj):
        return obj.category.name if obj.category_id else UNCLASSIFIED_LABEL

    @admin.display(description="reported", ordering="is_late")
    def late(self, obj):
        # In words: a tick for "late" read as "all is well".
        return "late" if obj.is_late else "on time"

    @admin.display(description="reporter")
    def reporter_display(self, obj):
        if obj is None or obj.reporter_id is None:
            return "—"
        return obj.reporter.get_full_name() or obj.reporter.username

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
                label, colour = STATE_LABELS[state]
                parts.append(
                    format_html(
                        '{}: <span style="color:{};font-weight:600">{}</span>', name, colour, label
                    )
                )
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
    history_children = ("team", "actions", "escalations", "communications", "review")

    def history_mask(self, request, obj):
        # The API's rule too: anonymous reporters stay hidden in the history.
        return queries.history_mask(request.user, obj)

    def save_model(self, request, obj, form, change):
        fields = {
            name: form.cleaned_data[name]
            for name in form.changed_data
            if name in services.DESCRIPTIVE_FIELDS
        }
        if change:
            # Naming the manager hands a confidential incident to its team, out of sight of
            # an intake member who is not on it: named last (save_related), after the team
            # inline, so one save can classify, name the team and name the manager. Kept on
            # this request's instance, never on the shared admin.
            if "incident_manager" in fields:
                obj._manager_named_last = fields.pop("incident_manager")
            if fields:
                services.incident_update(
                    incident=obj, actor=request.user, reason="Edited in the admin", **fields
                )
            return
        created = services.incident_report(
            actor=request.user,
            **{name: form.cleaned_data.get(name) for name in services.DESCRIPTIVE_FIELDS},
            anonymous=form.cleaned_data.get("anonymous", False),
        )
        obj.pk = created.pk
        obj._state.adding = False
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
                reason="Edited in the admin",
                incident_manager=form.instance.__dict__.pop("_manager_named_last"),
            )

    def save_formset(self, request, form, formset, change):
        """Team, actions and notes go through the services (timeline entries, history reasons)."""
        incident = form.instance
        # The admin's change message reads what the formset saved; ours saves through services.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        if formset.model is TeamMember:
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
        elif formset.model is Action:
            for subform in formset.forms:
                if not subform.has_changed():
                    continue
                data = {
                    k: subform.cleaned_data.get(k)
                    for k in ("kind", "description", "owner", "due_date", "status")
                }
                if subform.instance.pk:
                    action = services.action_update(
                        action=subform.instance, actor=request.user, **data
                    )
                    formset.changed_objects.append((action, subform.changed_data))
                else:
                    data.pop("status")
                    action = services.action_create(incident=incident, actor=request.user, **data)
                    formset.new_objects.append(action)
        elif formset.model is TimelineEntry:
            for subform in formset.forms:
                if (
                    subform.instance.pk is None
                    and subform.has_changed()
                    and subform.cleaned_data.get("text")
                ):
                    note = services.timeline_note_add(
                        incident=incident, actor=request.user, text=subform.cleaned_data["text"]
                    )
                    formset.new_objects.append(note)
        else:
            super().save_formset(request, form, formset, change)

    def _bulk_form(self, request, queryset, form_class, title, action_name, apply):
        """An intermediate page: a form for the selected incidents, then the service per incident."""
        if "apply" in request.POST:
            form = form_class(request.POST)
            if form.is_valid():
                done = 0
                for incident in queryset:
                    try:
                        apply(incident, form.cleaned_data)
                        done += 1
                    except DomainError as exc:
                        messages.error(request, f"{incident.reference}: {exc.message}")
                if done:
                    messages.success(request, f"{title}: {done} incident(s) done.")
                return None
        else:
            form = form_class()
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
        return self._bulk_form(
            request,
            queryset,
            TransitionForm,
            "Move to another phase",
            "transition_selected",
            lambda incident, data: services.incident_transition(
                incident=incident, actor=request.user, status=data["status"], reason=data["reason"]
            ),
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

    def dashboard_view(self, request):
        if not self.has_view_permission(request):
            return redirect("admin:index")
        metrics = queries.incident_metrics(request.user)
        peak = max([row["count"] for row in metrics["by_month"]] + [1])
        for row in metrics["by_month"]:
            row["width"] = round(100 * row["count"] / peak)
        peak_category = max([row["count"] for row in metrics["by_category"]] + [1])
        for row in metrics["by_category"]:
            row["width"] = round(100 * row["count"] / peak_category)
        peak_priority = max(list(metrics["by_priority"].values()) + [1])
        priorities = [
            {"priority": p, "count": n, "width": round(100 * n / peak_priority)}
            for p, n in metrics["by_priority"].items()
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": "Incident dashboard",
            "opts": self.model._meta,
            "m": metrics,
            "priorities": priorities,
        }
        return TemplateResponse(request, "admin/incidents/incident/dashboard.html", context)


@admin.register(Category)
class CategoryAdmin(AuditedAdmin):
    list_display = ("name", "plan", "active")
    list_filter = ("active",)
    list_select_related = ("plan",)
    search_fields = ("name",)


@admin.register(ResponseTarget)
class ResponseTargetAdmin(AuditedAdmin):
    list_display = (
        "priority",
        "acknowledge_minutes",
        "contain_minutes",
        "recover_minutes",
        "update_minutes",
    )


@admin.register(EscalationRule)
class EscalationRuleAdmin(AuditedAdmin):
    list_display = ("priority", "level", "to_user", "to_group", "active")
    list_filter = ("priority", "active")
    list_select_related = ("to_user", "to_group")
    autocomplete_fields = ("to_user",)


@admin.register(MessageTemplate)
class MessageTemplateAdmin(AuditedAdmin):
    list_display = ("name", "scenario", "subject", "active")
    search_fields = ("name", "scenario", "subject")


@admin.register(Escalation)
class EscalationAdmin(VisibleIncidentMixin, AuditedAdmin):
    list_display = (
        "incident",
        "level",
        "to_user",
        "to_group",
        "escalated_by",
        "created_at",
        "automatic",
        "acknowledged_at",
    )
    list_filter = ("level", "automatic")
    list_select_related = ("incident", "to_user", "to_group", "escalated_by")
    search_fields = ("incident__reference", "reason")
    readonly_fields = (
        "incident",
        "level",
        "to_user",
        "to_group",
        "reason",
        "escalated_by",
        "created_at",
        "automatic",
        "rule",
        "acknowledged_at",
        "acknowledged_by",
    )
    actions = ("acknowledge_selected",)

    def has_add_permission(self, request):
        return False

    @admin.action(description="Acknowledge selected escalations", permissions=["change"])
    def acknowledge_selected(self, request, queryset):
        for escalation in queryset.select_related("incident"):
            try:
                services.escalation_acknowledge(escalation=escalation, actor=request.user)
            except DomainError as exc:
                messages.error(request, f"{escalation.incident.reference}: {exc.message}")
            else:
                messages.success(request, f"{escalation.incident.reference}: acknowledged.")


@admin.register(TimelineEntry)
class TimelineEntryAdmin(VisibleIncidentMixin, AuditedAdmin):
    list_display = ("incident", "created_at", "kind", "author", "text")
    list_filter = ("kind",)
    list_select_related = ("incident", "author")
    search_fields = ("incident__reference", "text")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


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

    def clean(self):
        data = super().clean()
        if self.errors or data.get("incident") is None:
            return data
        try:
            self.rendered = services.communication_render(
                incident=data["incident"],
                actor=self.actor,
                template=data.get("template"),
                subject=data.get("subject") or "",
                body=data.get("body") or "",
                audience=data.get("audience") or "",
                group=data.get("group"),
            )
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
class CommunicationAdmin(VisibleIncidentMixin, AuditedAdmin):
    form = CommunicationForm
    change_form_template = "admin/incidents/communication/change_form.html"
    list_display = (
        "incident",
        "subject",
        "recipient_count",
        "sent_by",
        "queued_at",
        "delivery",
    )
    list_select_related = ("incident", "sent_by")
    search_fields = ("incident__reference", "subject")
    autocomplete_fields = ("incident",)

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
                "sent_by",
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
        data = form.cleaned_data
        sent = services.communication_send(
            incident=data["incident"],
            actor=request.user,
            template=data.get("template"),
            subject=data.get("subject") or "",
            body=data.get("body") or "",
            audience=data.get("audience") or "",
            group=data.get("group"),
            expected_digest=digest,
        )
        obj.pk = sent.pk
        obj._state.adding = False
        obj.refresh_from_db()

    def response_add(self, request, obj, post_url_continue=None):
        # Django would say "added successfully" before the email has gone anywhere; the
        # add view says how it went once the transaction has committed.
        request.communication_sent = obj
        return redirect("admin:incidents_communication_changelist")


@admin.register(Action)
class ActionAdmin(VisibleIncidentMixin, AuditedAdmin):
    list_display = ("incident", "kind", "description", "owner", "due_date", "status")
    list_filter = ("status", "kind")
    list_select_related = ("incident", "owner")
    search_fields = ("incident__reference", "description")
    autocomplete_fields = ("incident", "owner")

    def save_model(self, request, obj, form, change):
        data = {
            k: form.cleaned_data.get(k)
            for k in ("kind", "description", "owner", "due_date", "status")
        }
        if change:
            services.action_update(action=obj, actor=request.user, **data)
            return
        data.pop("status")
        created = services.action_create(
            incident=form.cleaned_data["incident"], actor=request.user, **data
        )
        obj.pk = created.pk
        obj._state.adding = False
        obj.refresh_from_db()


@admin.register(PostIncidentReview)
class PostIncidentReviewAdmin(VisibleIncidentMixin, AuditedAdmin):
    list_display = ("incident", "status", "plan_change_needed", "completed_at")
    list_filter = ("status", "plan_change_needed")
    list_select_related = ("incident",)
    search_fields = ("incident__reference", "summary")
    autocomplete_fields = ("incident", "participants")
    readonly_fields = ("status", "completed_at", "completed_by", "plan_change_request")
    actions = ("complete_selected",)

    def get_changeform_initial_data(self, request):
        # Only the incident, and only an id that can exist (AuditedAdmin drops the others).
        initial = super().get_changeform_initial_data(request)
        return {"incident": initial["incident"]} if "incident" in initial else {}

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields.append("incident")
            if obj.status == PostIncidentReview.ReviewStatus.COMPLETED:
                return [f.name for f in self.model._meta.fields if f.name != "id"] + [
                    "participants"
                ]
        return fields

    def save_model(self, request, obj, form, change):
        from .services import REVIEW_FIELDS

        data = {k: form.cleaned_data[k] for k in REVIEW_FIELDS if k in form.cleaned_data}
        incident = obj.incident if change else form.cleaned_data["incident"]
        saved = services.review_save(incident=incident, actor=request.user, **data)
        obj.pk = saved.pk
        obj._state.adding = False

    def save_related(self, request, form, formsets, change):
        if "participants" in form.cleaned_data:
            review = PostIncidentReview.objects.get(pk=form.instance.pk)
            services.review_save(
                incident=review.incident,
                actor=request.user,
                participants=form.cleaned_data["participants"],
            )

    @admin.action(description="Complete selected reviews", permissions=["change"])
    def complete_selected(self, request, queryset):
        for review in queryset.select_related("incident"):
            try:
                services.review_complete(incident=review.incident, actor=request.user)
            except DomainError as exc:
                messages.error(request, f"{review.incident.reference}: {exc.message}")
            else:
                messages.success(request, f"{review.incident.reference}: review completed.")

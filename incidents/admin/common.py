"""What the incidents app's admin pages share: visibility by incident, target colours, filters, actions over many."""

from django.contrib import admin, messages
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import ValidationError
from django.utils.html import format_html

from core.admin import PersonFilter, domain_error_message
from core.errors import DomainError
from core.people import person_label

from .. import queries
from ..models import OPEN_STATUSES

STATE_LABELS = {
    queries.MET: ("met", "#1a7f37"),
    queries.PENDING: ("pending", "#57606a"),
    queries.AT_RISK: ("at risk", "#9a6700"),
    queries.BREACHED: ("breached", "#b42318"),
    queries.MISSED: ("missed", "#b42318"),
}

UNCLASSIFIED_LABEL = "Unclassified (awaiting triage)"


def state_html(state):
    """A response-target state in its colour."""
    label, colour = STATE_LABELS[state]
    return format_html('<span style="color:{};font-weight:600">{}</span>', colour, label)


def span_words(delta):
    """A length of time in words a coordinator reads at a glance: "35 min", "5 h", "3 days"."""
    minutes = max(0, int(delta.total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} days"


def worst_target_html(state, deadline, now):
    """The list's target cell: "breached 2 h ago", "at risk 35 min left", "met"."""
    if state is None:
        return "—"
    if deadline is None:
        return state_html(state)
    if deadline <= now:
        time_words = f"{span_words(now - deadline)} ago"
    else:
        time_words = f"{span_words(deadline - now)} left"
    return format_html(
        '{} <span style="white-space:nowrap">{}</span>', state_html(state), time_words.lstrip()
    )


def for_each(request, records, step, *, name, done=None):
    """Run `step(record)` (one service call) for each record of an action over several: a
    refusal is a message naming the record (`name(record)`), and the others are counted
    (and, given `done`, each said done). Returns how many were done."""
    count = 0
    for record in records:
        try:
            step(record)
        except (DomainError, ValidationError) as exc:
            domain_error_message(request, exc, about=name(record))
            continue
        count += 1
        if done:
            messages.success(request, f"{name(record)}: {done}.")
    return count


class VisibleIncidentMixin:
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
        if self.value() == "yes":
            return queryset.filter(status__in=OPEN_STATUSES)
        if self.value() == "no":
            return queryset.exclude(status__in=OPEN_STATUSES)
        return queryset


class ReopenedFilter(admin.SimpleListFilter):
    title = "reopened"
    parameter_name = "reopened"

    def lookups(self, request, model_admin):
        return (("yes", "Reopened at least once"),)

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(queries.reopened())
        return queryset


class ReadinessFilter(admin.SimpleListFilter):
    """Incidents handled by a team fully current on its plan (queries.fully_ready), or not."""

    title = "responder readiness"
    parameter_name = "readiness"

    def lookups(self, request, model_admin):
        return (
            ("ready", "Everyone ready (plan signed, training current)"),
            ("not_ready", "Someone not ready"),
        )

    def queryset(self, request, queryset):
        if self.value() == "ready":
            return queries.fully_ready(queryset)
        if self.value() == "not_ready":
            return (
                queryset.filter(readiness__isnull=False)
                .exclude(pk__in=queries.fully_ready(queryset.model.objects.all()).values("pk"))
                .distinct()
            )
        return queryset


class PastDueFilter(admin.SimpleListFilter):
    """Actions still to do whose due date has passed (the dashboard's "open actions past due")."""

    title = "past due"
    parameter_name = "past_due"

    def lookups(self, request, model_admin):
        return (("yes", "Open and past due"),)

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(queries.past_due_actions())
        return queryset


class PlanVersionFilter(admin.SimpleListFilter):
    """The plan version in force when reported: the dashboard's by-plan-version rows link here.

    Shown only while it narrows the list (its one choice is the chosen version), so the
    list's sidebar gains no list of every version ever published and no query for one.
    """

    title = "plan version in force"
    parameter_name = "plan_version"
    NONE = "none"

    def lookups(self, request, model_admin):
        value = self.value()
        if value == self.NONE:
            return ((self.NONE, "No plan in force"),)
        if value and value.isdigit():
            PlanVersion = model_admin.model.plan_version.field.related_model
            version = PlanVersion.objects.select_related("plan").filter(pk=int(value)).first()
            if version is not None:
                return ((str(version.pk), f"{version.plan.code} v{version.number}"),)
        return ()

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        if value == self.NONE:
            return queryset.filter(plan_version__isnull=True)
        if value.isdigit() and len(value) < 19:
            return queryset.filter(plan_version_id=int(value))
        return queryset.none()


class CategoryFilter(admin.RelatedFieldListFilter):
    """The category filter, whose "no category" choice says what it means."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.empty_value_display = UNCLASSIFIED_LABEL


class KnownAutocompleteSelect(AutocompleteSelect):
    """The admin's autocomplete, rendering the person already chosen from the row loaded with
    it (`known`: id → user) instead of one query per row (an inline of 50 team members)."""

    known = None

    def optgroups(self, name, value, attr=None):
        known = self.known or {}
        chosen = [str(v) for v in value if v not in ("", None)]
        if not chosen or not all(v in known for v in chosen):
            return super().optgroups(name, value, attr)
        options = [] if self.is_required else [self.create_option(name, "", "", False, 0)]
        for pk in chosen:
            label = self.choices.field.label_from_instance(known[pk])
            options.append(self.create_option(name, known[pk].pk, label, True, len(options)))
        return [(None, options, 0)]


class KnownPeopleInline:
    """An inline whose people (`known_people`, loaded with its rows by `select_related`) are
    chosen by autocomplete and shown without a query per row: a fixed cost per page."""

    known_people = ()

    def get_queryset(self, request):
        return super().get_queryset(request).select_related(*self.known_people)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        widget = getattr(field, "widget", None)
        if db_field.name in self.known_people and isinstance(widget, AutocompleteSelect):
            known = KnownAutocompleteSelect(
                widget.field, widget.admin_site, attrs=widget.attrs, using=widget.db
            )
            known.choices, known.is_required = widget.choices, widget.is_required
            field.widget = known
        return field

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        names = self.known_people

        class Form(formset.form):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                for name in names:
                    field = self.fields.get(name)
                    person = getattr(self.instance, name, None) if self.instance.pk else None
                    if field is None or person is None:
                        continue
                    widget = getattr(field.widget, "widget", field.widget)
                    if isinstance(widget, KnownAutocompleteSelect):
                        widget.known = {str(person.pk): person}

        formset.form = Form
        return formset


class IncidentManagerFilter(PersonFilter):
    """The incident managers, by name: those of the incidents the reader sees
    (queries.incident_managers), found without visiting every incident."""

    def field_choices(self, field, request, model_admin):
        return [(user.pk, person_label(user)) for user in queries.incident_managers(request.user)]

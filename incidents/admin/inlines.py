"""The incident page's inlines: its team (with each member's readiness when they joined),
actions, the latest timeline entries and the escalations."""

from django.contrib import admin
from django.forms.models import BaseInlineFormSet

from core.admin import PeopleByName, ReadOnlyInline, person_column

from .. import queries
from ..models import Action, Escalation, TeamMember, TimelineEntry
from .common import KnownPeopleInline


class TeamMemberInline(KnownPeopleInline, PeopleByName, admin.TabularInline):
    model = TeamMember
    known_people = ("user",)
    extra = 0
    autocomplete_fields = ("user",)
    fields = ("user", "role", "added_at", "readiness")
    readonly_fields = ("added_at", "readiness")

    def get_queryset(self, request):
        return queries.with_readiness(super().get_queryset(request))

    @admin.display(description="readiness when joined")
    def readiness(self, member):
        if member.pk is None:
            return "—"
        return queries.readiness_words(
            getattr(member, "readiness_state", None),
            getattr(member, "readiness_acknowledged_at", None),
            getattr(member, "readiness_missing", None),
        )


class ActionInline(KnownPeopleInline, PeopleByName, admin.TabularInline):
    model = Action
    known_people = ("owner",)
    extra = 0
    autocomplete_fields = ("owner",)
    fields = ("kind", "description", "owner", "due_date", "status", "completed_at")
    readonly_fields = ("completed_at",)
    can_delete = False


# The incident page shows the latest timeline entries, so it stays one size however long an
# incident runs; the whole timeline is in the API (`GET …/timeline/`, paged), the incident's
# history and its evidence bundle.
TIMELINE_SHOWN = 50


class LatestTimelineFormSet(BaseInlineFormSet):
    def get_queryset(self):
        if not hasattr(self, "_latest"):
            self._latest = super().get_queryset()[:TIMELINE_SHOWN]
        return self._latest


class TimelineInline(admin.TabularInline):
    """The timeline: read it here (the latest TIMELINE_SHOWN entries); new lines are notes,
    added through the service."""

    model = TimelineEntry
    formset = LatestTimelineFormSet
    verbose_name_plural = f"timeline (the latest {TIMELINE_SHOWN} entries)"
    extra = 1
    fields = ("created_at", "kind", "author_name", "text")
    readonly_fields = ("created_at", "kind", "author_name")
    author_name = person_column("author")
    can_delete = False
    ordering = ("-created_at", "-id")

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("author")


class EscalationInline(ReadOnlyInline, admin.TabularInline):
    """The escalations, shown: they are made by the "Escalate" action, acknowledged by their
    recipients."""

    model = Escalation
    fields = (
        "created_at",
        "level",
        "to_user_name",
        "to_group",
        "reason",
        "escalated_by_name",
        "automatic",
        "acknowledged_at",
        "delivery",
    )
    readonly_fields = fields
    to_user_name = person_column("to_user", "to person")
    escalated_by_name = person_column("escalated_by")

    def get_queryset(self, request):
        return queries.with_delivery(
            super().get_queryset(request).select_related("to_user", "to_group", "escalated_by")
        )

    @admin.display(description="email")
    def delivery(self, escalation):
        return queries.delivery_text(escalation)

"""The incident's records in the admin: categories, targets, escalation rules, templates, escalations, timeline, actions, reviews."""

from django.contrib import admin

from core.admin import AuditedAdmin, PersonFilter, ServiceAdmin, is_person_field, person_column
from core.people import person_label

from .. import services
from ..models import (
    Action,
    Category,
    Escalation,
    EscalationRule,
    MessageTemplate,
    PostIncidentReview,
    ResponseTarget,
    TimelineEntry,
)
from .common import PastDueFilter, VisibleIncidentMixin, for_each


@admin.register(Category)
class CategoryAdmin(ServiceAdmin):
    create_service, update_service = services.CONFIGURATION_SERVICES[Category]
    service_fields, service_object = services.CATEGORY_FIELDS, "category"
    list_display = ("name", "plan", "active")
    list_filter = ("active",)
    list_select_related = ("plan",)
    search_fields = ("name",)


@admin.register(ResponseTarget)
class ResponseTargetAdmin(ServiceAdmin):
    create_service, update_service = services.CONFIGURATION_SERVICES[ResponseTarget]
    service_fields, service_object = services.RESPONSE_TARGET_FIELDS, "response_target"
    list_display = (
        "priority",
        "acknowledge_minutes",
        "contain_minutes",
        "recover_minutes",
        "update_minutes",
    )


@admin.register(EscalationRule)
class EscalationRuleAdmin(ServiceAdmin):
    create_service, update_service = services.CONFIGURATION_SERVICES[EscalationRule]
    service_fields, service_object = services.ESCALATION_RULE_FIELDS, "escalation_rule"
    list_display = ("priority", "level", "to_person", "to_group", "active")
    list_filter = ("priority", "active")
    list_select_related = ("to_user", "to_group")
    autocomplete_fields = ("to_user",)
    to_person = person_column("to_user", "to person")


@admin.register(MessageTemplate)
class MessageTemplateAdmin(ServiceAdmin):
    create_service, update_service = services.CONFIGURATION_SERVICES[MessageTemplate]
    service_fields, service_object = services.MESSAGE_TEMPLATE_FIELDS, "message_template"
    list_display = ("name", "scenario", "subject", "active")
    search_fields = ("name", "scenario", "subject")


@admin.register(Escalation)
class EscalationAdmin(VisibleIncidentMixin, AuditedAdmin):
    list_display = (
        "incident",
        "level",
        "to_user_name",
        "to_group",
        "escalated_by_name",
        "created_at",
        "automatic",
        "acknowledged_at",
    )
    list_filter = (
        "level",
        "automatic",
        ("to_user", PersonFilter),
        # The dashboard's escalations tile: those of incidents reported in its range.
        ("incident__reported_at", admin.DateFieldListFilter),
    )
    list_select_related = ("incident", "to_user", "to_group", "escalated_by")
    search_fields = ("incident__reference", "reason")
    # Every field read-only, in the model's order, people by name: an escalation is
    # acknowledged, not edited.
    readonly_fields = tuple(
        f"{field.name}_name" if is_person_field(field) else field.name
        for field in Escalation._meta.fields
        if field.name != "id"
    )
    to_user_name = person_column("to_user", "to person")
    escalated_by_name = person_column("escalated_by")
    acknowledged_by_name = person_column("acknowledged_by")
    actions = ("acknowledge_selected",)

    def has_add_permission(self, request):
        return False

    @admin.action(description="Acknowledge selected escalations", permissions=["change"])
    def acknowledge_selected(self, request, queryset):
        for_each(
            request,
            queryset.select_related("incident"),
            lambda escalation: services.escalation_acknowledge(
                escalation=escalation, actor=request.user
            ),
            name=lambda escalation: escalation.incident.reference,
            done="acknowledged",
        )


@admin.register(TimelineEntry)
class TimelineEntryAdmin(VisibleIncidentMixin, AuditedAdmin):
    list_display = ("incident", "created_at", "kind", "author_name", "text")
    list_filter = ("kind",)
    author_name = person_column("author")
    list_select_related = ("incident", "author")
    search_fields = ("incident__reference", "text")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Action)
class ActionAdmin(VisibleIncidentMixin, ServiceAdmin):
    list_display = ("incident", "kind", "description", "owner_name", "due_date", "status")
    list_filter = (
        "status",
        "kind",
        ("owner", PersonFilter),
        PastDueFilter,
        # The dashboard's past-due tile: actions of incidents reported in its range.
        ("incident__reported_at", admin.DateFieldListFilter),
    )
    owner_name = person_column("owner")
    list_select_related = ("incident", "owner")
    search_fields = ("incident__reference", "description")
    autocomplete_fields = ("incident", "owner")

    create_service = services.action_create
    update_service = services.action_update
    service_fields = ("incident", *services.ACTION_FIELDS)

    def service_data(self, request, form, change):
        data = super().service_data(request, form, change)
        # A new action is open; an action stays with its incident.
        data.pop("incident" if change else "status", None)
        return data

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:
            obj.refresh_from_db()


@admin.register(PostIncidentReview)
class PostIncidentReviewAdmin(VisibleIncidentMixin, ServiceAdmin):
    list_display = ("incident", "status", "plan_change_needed", "completed_at")
    list_filter = ("status", "plan_change_needed")
    list_select_related = ("incident",)
    search_fields = ("incident__reference", "summary")
    autocomplete_fields = ("incident", "participants")
    readonly_fields = ("status", "completed_at", "completed_by_name", "plan_change_request")
    completed_by_name = person_column("completed_by")
    actions = ("complete_selected",)

    # The review is saved through its incident (services.review_save), participants too.
    service_fields = ("incident", *services.REVIEW_FIELDS, "participants")

    @admin.display(description="participants")
    def participants_names(self, review):
        return ", ".join(person_label(user) for user in review.participants.all()) or "—"

    def get_changeform_initial_data(self, request):
        # Only the incident, and only an id that can exist (AuditedAdmin drops the others).
        initial = super().get_changeform_initial_data(request)
        return {"incident": initial["incident"]} if "incident" in initial else {}

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields.append("incident")
            if obj.is_completed:
                return [
                    f"{f.name}_name" if is_person_field(f) else f.name
                    for f in self.model._meta.fields
                    if f.name != "id"
                ] + ["participants_names"]
        return fields

    def save_model(self, request, obj, form, change):
        data = self.service_data(request, form, change)
        incident = obj.incident if change else data.pop("incident")
        saved = services.review_save(incident=incident, actor=request.user, **data)
        obj.pk = saved.pk
        obj._state.adding = False

    @admin.action(description="Complete selected reviews", permissions=["change"])
    def complete_selected(self, request, queryset):
        for_each(
            request,
            queryset.select_related("incident"),
            lambda review: services.review_complete(incident=review.incident, actor=request.user),
            name=lambda review: review.incident.reference,
            done="review completed",
        )

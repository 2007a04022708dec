"""Admin of change requests: ask for a change to a plan; the next published version addresses it."""

from django.contrib import admin

from core.admin import ServiceAdmin

from .. import queries, services
from ..models import PlanChangeRequest


@admin.register(PlanChangeRequest)
class PlanChangeRequestAdmin(ServiceAdmin):
    list_display = (
        "summary",
        "plan",
        "source",
        "requested_by",
        "status",
        "addressed_in",
        "created_at",
    )
    list_select_related = ("plan", "requested_by", "addressed_in", "addressed_in__plan")
    list_filter = ("status", "plan")
    search_fields = ("summary", "details", "source")
    fields = ("plan", "summary", "details", "source", "source_url")
    ordering = ("-created_at", "-id")
    create_service = services.change_request_create
    service_fields = fields

    def history_mask(self, request, obj):
        return queries.change_request_history_mask(request.user, obj)

    def has_change_permission(self, request, obj=None):
        # Requests are added here, never edited: the filer restates its own (services).
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

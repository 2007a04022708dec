"""Admin of plans: their fields and audience, their versions, starting a new draft."""

from django.contrib import admin, messages
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from core.admin import ReadOnlyInline, ServiceAdmin, person_column, run_service
from core.validators import safe_href

from .. import queries, services
from ..models import Plan, PlanChangeRequest, PlanVersion


def progress_text(acknowledged, audience):
    if not audience:
        return "no audience"
    return f"{acknowledged}/{audience} ({round(100 * acknowledged / audience)}%)"


def version_link(version_id, number):
    url = reverse("admin:plans_planversion_change", args=[version_id])
    return format_html('<a href="{}">Version {}</a>', url, number)


class VersionInline(ReadOnlyInline, admin.TabularInline):
    model = PlanVersion
    fields = ("version_link", "status", "author_name", "published_at", "next_review_due")
    readonly_fields = fields
    author_name = person_column("author")
    show_change_link = False
    ordering = ("-number",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("author", "plan")

    @admin.display(description="version")
    def version_link(self, version):
        return version_link(version.pk, version.number)


class ChangeRequestInline(ReadOnlyInline, admin.TabularInline):
    model = PlanChangeRequest
    fk_name = "plan"
    fields = ("summary", "source_link", "requested_by", "status", "addressed_in", "created_at")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("requested_by", "addressed_in")

    @admin.display(description="source")
    def source_link(self, change_request):
        # A link stored before links were validated is shown as text, never as a live href.
        href = safe_href(change_request.source_url)
        if href:
            return format_html('<a href="{}">{}</a>', href, change_request.source or "link")
        return change_request.source or change_request.source_url


@admin.register(Plan)
class PlanAdmin(ServiceAdmin):
    list_display = ("code", "title", "owner_name", "current_version", "review_flag", "progress")
    owner_name = person_column("owner")
    list_select_related = ("owner",)
    search_fields = ("code", "title")
    autocomplete_fields = ("owner",)
    filter_horizontal = ("audience",)
    inlines = (VersionInline, ChangeRequestInline)
    change_form_template = "admin/plans/plan/change_form.html"
    fields = services.PLAN_FIELDS
    create_service = services.plan_create
    update_service = services.plan_update
    service_fields = services.PLAN_FIELDS

    def get_queryset(self, request):
        return queries.plans_with_progress(super().get_queryset(request))

    @admin.display(description="published version", ordering="current_number")
    def current_version(self, plan):
        if plan.current_id is None:
            return "—"
        return version_link(plan.current_id, plan.current_number)

    @admin.display(description="review due", boolean=True, ordering="is_review_due")
    def review_flag(self, plan):
        return plan.is_review_due

    @admin.display(description="acknowledged (current version)")
    def progress(self, plan):
        if plan.current_id is None:
            return "—"
        return progress_text(plan.acknowledged_count, plan.audience_size)

    def get_urls(self):
        return [
            path(
                "<int:pk>/new-draft/",
                self.admin_site.admin_view(require_POST(self.new_draft_view)),
                name="plans_plan_new_draft",
            ),
        ] + super().get_urls()

    def new_draft_view(self, request, pk):
        plan = get_object_or_404(self.get_queryset(request), pk=pk)
        version = run_service(request, services.version_create_draft, plan=plan)
        if version is None:
            return redirect("admin:plans_plan_change", pk)
        messages.success(request, f"Version {version.number} started as a draft.")
        return redirect("admin:plans_planversion_change", version.pk)

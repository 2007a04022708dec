"""Admin for authoring, reviewing and auditing plans; every change goes through the services."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from core.admin import AuditedAdmin
from core.errors import DomainError
from core.exports import csv_response
from core.parsing import parse_id
from core.validators import safe_href

from . import queries, services
from .models import (
    Acknowledgement,
    AcknowledgementNotice,
    Plan,
    PlanChangeRequest,
    PlanVersion,
    ReminderClock,
    Review,
    Section,
)

S = PlanVersion.Status


def progress_text(acknowledged, audience):
    if not audience:
        return "no audience"
    return f"{acknowledged}/{audience} ({round(100 * acknowledged / audience)}%)"


def _domain_error_message(request, exc):
    messages.error(request, exc.message)


class VersionInline(admin.TabularInline):
    model = PlanVersion
    fields = ("version_link", "status", "author", "published_at", "next_review_due")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False
    ordering = ("-number",)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("author", "plan")

    @admin.display(description="version")
    def version_link(self, version):
        url = reverse("admin:plans_planversion_change", args=[version.pk])
        return format_html('<a href="{}">Version {}</a>', url, version.number)


class ChangeRequestInline(admin.TabularInline):
    model = PlanChangeRequest
    fk_name = "plan"
    fields = ("summary", "source_link", "requested_by", "status", "addressed_in", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("requested_by", "addressed_in")

    @admin.display(description="source")
    def source_link(self, request_):
        # A link stored before links were validated is shown as text, never as a live href.
        href = safe_href(request_.source_url)
        if href:
            return format_html('<a href="{}">{}</a>', href, request_.source or "link")
        return request_.source or request_.source_url


@admin.register(Plan)
class PlanAdmin(AuditedAdmin):
    list_display = ("code", "title", "owner", "current_version", "review_flag", "progress")
    list_select_related = ("owner",)
    search_fields = ("code", "title")
    autocomplete_fields = ("owner",)
    filter_horizontal = ("audience",)
    inlines = (VersionInline, ChangeRequestInline)
    change_form_template = "admin/plans/plan/change_form.html"
    fields = (
        "code",
        "title",
        "purpose",
        "scope",
        "objectives",
        "owner",
        "audience",
        "review_interval_months",
        "acknowledgement_days",
    )

    def get_queryset(self, request):
        published = PlanVersion.objects.filter(plan=OuterRef("pk"), status=S.PUBLISHED)
        today = timezone.localdate()
        return (
            super()
            .get_queryset(request)
            .annotate(
                current_number=Subquery(published.values("number")[:1]),
                current_id=Subquery(published.values("pk")[:1]),
                is_review_due=ExpressionWrapper(
                    Exists(published.filter(next_review_due__lt=today)),
                    output_field=BooleanField(),
                ),
            )
            .annotate(
                audience_size=Coalesce(queries._audience_count("pk"), 0),
                acknowledged_count=Coalesce(queries._acknowledged_count("current_id", "pk"), 0),
            )
        )

    @admin.display(description="published version", ordering="current_number")
    def current_version(self, plan):
        if plan.current_id is None:
            return "—"
        url = reverse("admin:plans_planversion_change", args=[plan.current_id])
        return format_html('<a href="{}">Version {}</a>', url, plan.current_number)

    @admin.display(description="review due", boolean=True, ordering="is_review_due")
    def review_flag(self, plan):
        return plan.is_review_due

    @admin.display(description="acknowledged (current version)")
    def progress(self, plan):
        if plan.current_id is None:
            return "—"
        return progress_text(plan.acknowledged_count, plan.audience_size)

    def save_model(self, request, obj, form, change):
        data = {name: form.cleaned_data[name] for name in self.fields if name in form.cleaned_data}
        audience = data.pop("audience", None)
        if change:
            services.plan_update(plan=obj, actor=request.user, audience=audience, **data)
        else:
            plan = services.plan_create(actor=request.user, audience=audience or (), **data)
            obj.pk = plan.pk
            obj._state.adding = False

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as exc:
            # The rule refused after the form validated; the transaction saved nothing.
            _domain_error_message(request, exc)
            return redirect(request.path)

    def save_related(self, request, form, formsets, change):
        # The services already stored the audience (no form.save_m2m); inlines are read-only.
        for formset in formsets:
            self.save_formset(request, form, formset, change)

    def get_urls(self):
        return [
            path(
                "<int:pk>/new-draft/",
                self.admin_site.admin_view(self.new_draft_view),
                name="plans_plan_new_draft",
            ),
        ] + super().get_urls()

    def new_draft_view(self, request, pk):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        plan = get_object_or_404(self.get_queryset(request), pk=pk)
        try:
            version = services.version_create_draft(plan=plan, actor=request.user)
        except DomainError as exc:
            _domain_error_message(request, exc)
            return redirect("admin:plans_plan_change", pk)
        messages.success(request, f"Version {version.number} started as a draft.")
        return redirect("admin:plans_planversion_change", version.pk)


class SectionInline(admin.StackedInline):
    model = Section
    fields = ("key", "heading", "body", "guidance")
    readonly_fields = ("key", "guidance")
    extra = 0
    can_delete = False
    ordering = ("order", "id")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        # Editable only while the version is a draft; read-only ever after.
        return bool(
            obj is not None
            and obj.status == S.DRAFT
            and request.user.has_perm("plans.change_section")
        )

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("plans.view_section") or self.has_change_permission(
            request, obj
        )


class ReviewInline(admin.TabularInline):
    model = Review
    fields = ("created_at", "decision", "reviewer", "comment")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("created_at", "id")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("reviewer")


WORKFLOW = {
    "submit": (services.version_submit, "Submit for review", S.DRAFT, "plans.change_planversion"),
    "approve": (services.version_approve, "Approve", S.IN_REVIEW, "plans.approve_planversion"),
    "request_changes": (
        services.version_request_changes,
        "Request changes",
        S.IN_REVIEW,
        "plans.approve_planversion",
    ),
    "publish": (services.version_publish, "Publish", S.APPROVED, "plans.publish_planversion"),
}


@admin.register(PlanVersion)
class PlanVersionAdmin(AuditedAdmin):
    list_display = (
        "__str__",
        "plan",
        "number",
        "status",
        "author",
        "published_at",
        "next_review_due",
        "review_flag",
        "progress",
    )
    list_filter = ("status", "plan")
    list_select_related = ("plan", "author")
    search_fields = ("plan__code", "plan__title", "change_summary")
    ordering = ("plan__code", "-number")
    inlines = (SectionInline, ReviewInline)
    change_form_template = "admin/plans/planversion/change_form.html"
    fields = (
        "plan",
        "number",
        "status",
        "author",
        "change_summary",
        "content_hash",
        "editors_list",
        "submitted_by",
        "submitted_at",
        "approved_by",
        "approved_at",
        "published_by",
        "published_at",
        "effective_date",
        "next_review_due",
        "open_change_requests",
    )

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if not queries.can_see_unpublished(request.user):
            qs = qs.filter(status__in=queries.VISIBLE_TO_EVERYONE)
        return queries.with_progress(qs)

    def get_readonly_fields(self, request, obj=None):
        editable = {"change_summary"} if obj is not None and obj.status == S.DRAFT else set()
        return [f for f in self.fields if f not in editable]

    def has_add_permission(self, request):
        # New versions start from the plan page ("Start a new draft").
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.status != S.DRAFT:
            return False
        return super().has_change_permission(request, obj)

    @admin.display(description="review due", boolean=True)
    def review_flag(self, version):
        return bool(
            version.status == S.PUBLISHED
            and version.next_review_due
            and version.next_review_due < timezone.localdate()
        )

    @admin.display(description="acknowledged")
    def progress(self, version):
        if version.status not in queries.VISIBLE_TO_EVERYONE:
            return "—"
        return progress_text(version.acknowledged_count, version.audience_size)

    @admin.display(description="edited by")
    def editors_list(self, version):
        return ", ".join(u.get_username() for u in version.editors.all()) or "—"

    @admin.display(description="open change requests")
    def open_change_requests(self, version):
        if version.status not in (S.DRAFT, S.IN_REVIEW, S.APPROVED):
            return "—"
        rows = queries.open_change_requests(version.plan)
        if not rows:
            return "None"
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li>{} <span class='quiet'>({}, {})</span></li>",
                ((r.summary, r.source or "no source", r.requested_by.get_username()) for r in rows),
            ),
        )

    def save_model(self, request, obj, form, change):
        if "change_summary" in form.changed_data:
            services.version_update(
                version=obj, actor=request.user, change_summary=form.cleaned_data["change_summary"]
            )

    def save_formset(self, request, form, formset, change):
        if formset.model is not Section:
            formset.save()  # read-only inlines: saves nothing, records "no change"
            return
        formset.new_objects, formset.deleted_objects, formset.changed_objects = [], [], []
        for section_form in formset.forms:
            if section_form.has_changed():
                services.section_update(
                    section=section_form.instance,
                    actor=request.user,
                    heading=section_form.cleaned_data.get("heading"),
                    body=section_form.cleaned_data.get("body"),
                )
                formset.changed_objects.append((section_form.instance, section_form.changed_data))

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as exc:
            _domain_error_message(request, exc)
            return redirect(request.path)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        version = self.get_object(request, object_id)
        if version is not None:
            steps = [
                (name, label)
                for name, (_, label, status, perm) in WORKFLOW.items()
                if version.status == status and request.user.has_perm(perm)
            ]
            if "approve" in dict(steps) and not queries.may_approve(request.user, version):
                steps = [step for step in steps if step[0] != "approve"]
                extra_context["approval_refused"] = (
                    "You created, edited or submitted this version, so another approver must "
                    "approve it (separation of duties)."
                )
            extra_context["workflow_steps"] = steps
            extra_context["can_see_compliance"] = (
                queries.can_see_all_acknowledgements(request.user)
                and version.status in queries.VISIBLE_TO_EVERYONE
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/workflow/", view(self.workflow_view), name="plans_planversion_workflow"),
            path(
                "<int:pk>/compliance/",
                view(self.compliance_view),
                name="plans_planversion_compliance",
            ),
            path(
                "<int:pk>/compliance.csv",
                view(self.compliance_csv_view),
                name="plans_planversion_compliance_csv",
            ),
            path("compare/", view(self.compare_view), name="plans_planversion_compare"),
        ] + super().get_urls()

    def _version(self, request, pk):
        return get_object_or_404(
            super()
            .get_queryset(request)
            .filter(pk__in=queries.visible_versions(request.user).values("pk"))
            .select_related("plan"),
            pk=pk,
        )

    def workflow_view(self, request, pk):
        """The workflow buttons: each posts a step and an optional comment to a service."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        version = self._version(request, pk)
        step = WORKFLOW.get(request.POST.get("step", ""))
        if step is None:
            messages.error(request, "Unknown workflow step.")
        else:
            service, label, _, _ = step
            try:
                service(
                    version=version, actor=request.user, comment=request.POST.get("comment", "")
                )
            except DomainError as exc:
                _domain_error_message(request, exc)
            else:
                messages.success(request, f"{label}: done.")
        return redirect("admin:plans_planversion_change", pk)

    def _require_compliance(self, request):
        if not queries.can_see_all_acknowledgements(request.user):
            raise PermissionDenied

    def compliance_view(self, request, pk):
        """Who in the audience acknowledged this version, who has not, and who is overdue."""
        self._require_compliance(request)
        version = self._version(request, pk)
        summary = queries.compliance_summary(version)
        rows = queries.compliance_rows(version)
        show = request.GET.get("show", "outstanding")
        if show == "outstanding":
            rows = rows.filter(acknowledged_at__isnull=True)
        elif show == "acknowledged":
            rows = rows.filter(acknowledged_at__isnull=False)
        page = Paginator(rows, 100).get_page(request.GET.get("page"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Acknowledgements of {version}",
            "version": version,
            "summary": summary,
            "page": page,
            "show": show,
            "overdue": summary["overdue"] > 0,
        }
        return TemplateResponse(request, "admin/plans/planversion/compliance.html", context)

    def compliance_csv_view(self, request, pk):
        """The compliance evidence as CSV, streamed row by row (fine for 10,000 people)."""
        self._require_compliance(request)
        version = self._version(request, pk)
        overdue = version.acknowledgements_overdue()

        def rows():
            for user in queries.compliance_rows(version).iterator(chunk_size=2000):
                if user.acknowledged_at:
                    state = "acknowledged"
                elif overdue:
                    state = "overdue"
                else:
                    state = "outstanding"
                signed = user.acknowledged_at is not None
                yield [
                    version.plan.code,
                    version.number,
                    user.pk,
                    user.get_username(),
                    user.get_full_name(),
                    user.email,
                    state,
                    "acknowledged" if signed else "",
                    user.signed_name or "",
                    user.signed_statement or "",
                    user.signed_hash or "",
                    user.acknowledged_at.isoformat() if signed else "",
                    user.signed_ip_address or "",
                    user.signed_user_agent or "",
                ]

        # full_name is the printed name from the account; typed_name what the signer typed.
        header = [
            "plan",
            "version",
            "user_id",
            "username",
            "full_name",
            "email",
            "state",
            "meaning",
            "typed_name",
            "statement",
            "fingerprint",
            "acknowledged_at",
            "ip_address",
            "user_agent",
        ]
        return csv_response(
            filename=f"{version.plan.code}-v{version.number}-acknowledgements.csv",
            header=header,
            rows=rows(),
        )

    def compare_view(self, request):
        """Pick two versions of a plan and see their sections side by side, words highlighted."""
        if not request.user.has_perm("plans.view_planversion"):
            raise PermissionDenied
        visible = queries.visible_versions(request.user).select_related("plan")
        plan_id = parse_id(request.GET.get("plan"))
        if plan_id is None:
            raise Http404
        plan = get_object_or_404(Plan, pk=plan_id)
        versions = list(visible.filter(plan=plan).order_by("-number"))
        by_id = {str(v.pk): v for v in versions}
        old, new = by_id.get(request.GET.get("a", "")), by_id.get(request.GET.get("b", ""))
        if old is None and new is None and len(versions) >= 2:
            new, old = versions[0], versions[1]
        diff = None
        if old is not None and new is not None:
            diff = queries.version_diff(old, new)
            for section in diff["sections"]:
                section["old_heading_html"] = queries.diff_html(section["heading_changes"], "old")
                section["new_heading_html"] = queries.diff_html(section["heading_changes"], "new")
                section["old_html"] = queries.diff_html(section["body_changes"], "old")
                section["new_html"] = queries.diff_html(section["body_changes"], "new")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Compare versions of {plan}",
            "plan": plan,
            "versions": versions,
            "old": old,
            "new": new,
            "diff": diff,
        }
        return TemplateResponse(request, "admin/plans/planversion/compare.html", context)


class ReadOnlyAdmin(AuditedAdmin):
    """Evidence: visible to those allowed to see it, never added, changed or deleted here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Acknowledgement)
class AcknowledgementAdmin(ReadOnlyAdmin):
    list_display = ("user", "version", "acknowledged_at", "full_name", "content_hash")
    list_select_related = ("user", "version", "version__plan")
    list_filter = ("version__plan",)
    search_fields = ("user__username", "full_name", "user__last_name")
    raw_id_fields = ("user", "version")
    ordering = ("-acknowledged_at", "-id")

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if not queries.can_see_all_acknowledgements(request.user):
            qs = qs.filter(user=request.user)
        return qs


@admin.register(Review)
class ReviewAdmin(ReadOnlyAdmin):
    list_display = ("version", "decision", "reviewer", "created_at", "comment")
    list_select_related = ("version", "version__plan", "reviewer")
    list_filter = ("decision",)
    ordering = ("-created_at", "-id")


@admin.register(Section)
class SectionAdmin(ReadOnlyAdmin):
    """Sections are edited inline on their version; here for their own history pages."""

    list_display = ("heading", "key", "version")
    list_select_related = ("version", "version__plan")
    search_fields = ("heading", "body")
    ordering = ("version", "order")

    def get_model_perms(self, request):
        return {}  # not listed on the admin index

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        return qs.filter(version__in=queries.visible_versions(request.user))


@admin.register(PlanChangeRequest)
class PlanChangeRequestAdmin(AuditedAdmin):
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

    def history_mask(self, request, obj):
        return queries.change_request_history_mask(request.user, obj)

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        created = services.change_request_create(actor=request.user, **form.cleaned_data)
        obj.pk = created.pk
        obj._state.adding = False


@admin.register(AcknowledgementNotice)
class AcknowledgementNoticeAdmin(ReadOnlyAdmin):
    list_display = ("user", "version", "kind", "sent_at")
    list_select_related = ("user", "version", "version__plan")
    list_filter = ("kind",)
    raw_id_fields = ("user", "version")
    ordering = ("-sent_at", "-id")


@admin.register(ReminderClock)
class ReminderClockAdmin(ReadOnlyAdmin):
    list_display = ("user", "last_sent_at")
    list_select_related = ("user",)
    ordering = ("-last_sent_at", "id")

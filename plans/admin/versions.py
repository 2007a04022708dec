"""Admin of plan versions: a draft's text inline, the review workflow's buttons, comparisons."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from core.admin import EvidenceBundleAdmin, ReadOnlyInline, ServiceAdmin, person_column, run_service
from core.parsing import parse_id
from core.people import person_label
from core.signing import authenticate_signer, reauth_url

from .. import bundle, queries, services
from ..models import Plan, PlanVersion, Review, Section, Signature
from .compliance import ComplianceViews
from .plans import progress_text

# Shown where an approver would find the Approve button (queries.approval_barred).
SEPARATION_OF_DUTIES = (
    "You created, edited or submitted this version, so another approver must approve it "
    "(separation of duties)."
)


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
        editable = obj is not None and obj.is_draft
        return editable and request.user.has_perm("plans.change_section")

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("plans.view_section") or self.has_change_permission(
            request, obj
        )


class ReviewInline(ReadOnlyInline, admin.TabularInline):
    model = Review
    fields = ("created_at", "decision", "reviewer", "comment")
    readonly_fields = fields
    ordering = ("created_at", "id")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("reviewer")


class SignatureInline(ReadOnlyInline, admin.TabularInline):
    """The version's electronic signatures; never changed (the model and database refuse)."""

    model = Signature
    fields = ("signed_at", "meaning", "printed_name", "content_hash", "method")
    readonly_fields = fields
    ordering = ("signed_at", "id")
    verbose_name_plural = "electronic signatures"

    def get_queryset(self, request):
        # Acknowledgements other than one's own only for those who see everyone's.
        return queries.signatures_visible_to(request.user, super().get_queryset(request))


@admin.register(PlanVersion)
class PlanVersionAdmin(EvidenceBundleAdmin, ComplianceViews, ServiceAdmin):
    list_display = (
        "__str__",
        "plan",
        "number",
        "status",
        "author_name",
        "published_at",
        "next_review_due",
        "review_flag",
        "progress",
    )
    list_filter = ("status", "plan")
    list_select_related = ("plan", "author")
    search_fields = ("plan__code", "plan__title", "change_summary")
    ordering = ("plan__code", "-number")
    inlines = (SectionInline, ReviewInline, SignatureInline)
    change_form_template = "admin/plans/planversion/change_form.html"
    fields = (
        "plan",
        "number",
        "status",
        "author_name",
        "change_summary",
        "content_hash",
        "editors_list",
        "submitted_by_name",
        "submitted_at",
        "approved_by_name",
        "approved_at",
        "published_by_name",
        "published_at",
        "effective_date",
        "next_review_due",
        "open_change_requests",
    )
    author_name = person_column("author")
    submitted_by_name = person_column("submitted_by")
    approved_by_name = person_column("approved_by")
    published_by_name = person_column("published_by")
    update_service = services.version_update
    service_object = "version"
    service_fields = ("change_summary",)

    def get_queryset(self, request):
        versions = queries.visible_versions(request.user, super().get_queryset(request))
        return queries.with_progress(versions)

    def get_readonly_fields(self, request, obj=None):
        editable = {"change_summary"} if obj is not None and obj.is_draft else set()
        return [f for f in self.fields if f not in editable]

    def has_add_permission(self, request):
        # New versions start from the plan page ("Start a new draft").
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        if obj is not None and not obj.is_draft:
            return False
        return super().has_change_permission(request, obj)

    @admin.display(description="review due", boolean=True)
    def review_flag(self, version):
        return version.is_review_due()

    @admin.display(description="acknowledged")
    def progress(self, version):
        if version.status not in queries.VISIBLE_TO_EVERYONE:
            return "—"
        return progress_text(version.acknowledged_count, version.audience_size)

    @admin.display(description="edited by")
    def editors_list(self, version):
        return ", ".join(person_label(u) for u in version.editors.all()) or "—"

    @admin.display(description="open change requests")
    def open_change_requests(self, version):
        if version.status not in queries.WORK_IN_PROGRESS:
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

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        version = self.get_object(request, object_id)
        if version is not None:
            steps = queries.allowed_steps(request.user, version)
            extra_context["workflow_steps"] = [(step.name, step.label) for step in steps]
            extra_context["reauth_url"] = reauth_url(request.user)
            if queries.approval_barred(request.user, version):
                extra_context["approval_refused"] = SEPARATION_OF_DUTIES
            extra_context["can_see_compliance"] = (
                queries.can_see_all_acknowledgements(request.user)
                and version.status in queries.VISIBLE_TO_EVERYONE
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def evidence_bundle(self, request, obj):
        return bundle.version_bundle(obj, request.user)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/workflow/",
                view(require_POST(self.workflow_view)),
                name="plans_planversion_workflow",
            ),
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

    def version_for(self, request, pk):
        """The version `pk` as this reader may see it, or 404."""
        versions = queries.visible_versions(request.user, super().get_queryset(request))
        return get_object_or_404(versions.select_related("plan"), pk=pk)

    def workflow_view(self, request, pk):
        """The workflow buttons: each posts a step and an optional comment to its service."""
        version = self.version_for(request, pk)
        name = request.POST.get("step", "")

        def sign_and_step(*, actor, **kwargs):
            # Each step is a signature: the password re-entered now (core.signing).
            proof = authenticate_signer(request, actor, request.POST.get("password", ""))
            return services.version_step(actor=actor, proof=proof, **kwargs)

        done = run_service(
            request,
            sign_and_step,
            version=version,
            step=name,
            comment=request.POST.get("comment", ""),
        )
        if done is not None:
            messages.success(request, f"{queries.STEPS[name].label}: done.")
        return redirect("admin:plans_planversion_change", pk)

    def compare_view(self, request):
        """Pick two versions of a plan and see their sections side by side, words highlighted."""
        if not request.user.has_perm("plans.view_planversion"):
            raise PermissionDenied
        plan_id = parse_id(request.GET.get("plan"))
        if plan_id is None:
            raise Http404
        plan = get_object_or_404(Plan, pk=plan_id)
        versions = list(
            queries.visible_versions(request.user)
            .filter(plan=plan)
            .select_related("plan")
            .order_by("-number")
        )
        by_id = {str(v.pk): v for v in versions}
        old, new = by_id.get(request.GET.get("a", "")), by_id.get(request.GET.get("b", ""))
        if old is None and new is None and len(versions) >= 2:
            new, old = versions[0], versions[1]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Compare versions of {plan}",
            "plan": plan,
            "versions": versions,
            "old": old,
            "new": new,
            "diff": queries.version_diff_html(old, new) if old and new else None,
        }
        return TemplateResponse(request, "admin/plans/planversion/compare.html", context)

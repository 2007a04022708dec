"""Admin of courses: their progress, the compliance report (page and streamed CSV), reminder clocks."""

from django import forms
from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from core.admin import ReadOnlyAdmin, ServiceAdmin, person_column
from core.exports import csv_response
from core.pagination import CountedPaginator
from core.people import person_label

from .. import queries, services
from ..models import Course, Record, ReminderClock

COMPLIANCE_CSV_HEADER = (
    "user_id",
    "username",
    "full_name",
    "email",
    "course_id",
    "course",
    "state",
    "last_completed_at",
    "valid_until",
)


class ComplianceFilterForm(forms.Form):
    user = forms.ModelChoiceField(
        queryset=queries.User.objects.filter(is_active=True),
        required=False,
        # Found by name, username or email (the admin's autocomplete), not by a numeric id.
        widget=AutocompleteSelect(Record._meta.get_field("user"), admin.site),
    )
    group = forms.ModelChoiceField(queryset=queries.Group.objects.order_by("name"), required=False)
    course = forms.ModelChoiceField(queryset=Course.objects.order_by("title"), required=False)
    state = forms.ChoiceField(choices=[("", "any")] + queries.State.CHOICES, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].label_from_instance = person_label


class CourseChangeList(ChangeList):
    def get_results(self, request):
        super().get_results(request)
        # Progress of the courses on this page, one aggregate query for all of them.
        ids = [course.pk for course in self.result_list]
        counts = queries.compliance_counts(course=ids) if ids else {}
        for course in self.result_list:
            course.progress = counts.get(course.pk)


def _csv_row(row):
    return [
        row["user_id"],
        row["username"],
        f"{row['first_name']} {row['last_name']}".strip(),
        row["email"],
        row["course_id"],
        row["course_title"],
        row["state"],
        row["last_completed_at"].isoformat() if row["last_completed_at"] else "",
        row["valid_until"].isoformat() if row["valid_until"] else "",
    ]


@admin.register(Course)
class CourseAdmin(ServiceAdmin):
    list_display = ("title", "kind", "validity_days", "required_groups", "progress_display")
    list_filter = ("kind", "required_for")
    list_select_related = ("plan",)
    search_fields = ("title", "description")
    filter_horizontal = ("required_for",)
    autocomplete_fields = ("plan",)
    ordering = ("title", "id")
    fields = ("title", "kind", "description", "content", "required_for", "validity_days", "plan")
    service_fields = fields
    create_service = services.course_create
    update_service = services.course_update
    change_list_template = "admin/training/course/change_list.html"

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("required_for")

    def get_changelist(self, request, **kwargs):
        return CourseChangeList

    @admin.display(description="required of")
    def required_groups(self, course):
        return ", ".join(sorted(g.name for g in course.required_for.all())) or "—"

    @admin.display(description="compliance (current / due soon / overdue / never)")
    def progress_display(self, course):
        counts = getattr(course, "progress", None)
        if not counts:
            return "—"
        url = reverse("admin:training_course_compliance") + f"?course={course.pk}"
        return format_html(
            '<a href="{}">{} / {} / {} / {}</a> of {}',
            url,
            counts["current"],
            counts["due_soon"],
            counts["overdue"],
            counts["never"],
            counts["total"],
        )

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("compliance/", view(self.compliance_view), name="training_course_compliance"),
            path(
                "compliance.csv",
                view(self.compliance_csv_view),
                name="training_course_compliance_csv",
            ),
        ] + super().get_urls()

    def _compliance_filters(self, request):
        form = ComplianceFilterForm(request.GET or None)
        filters = {}
        if form.is_valid():
            filters = {k: v for k, v in form.cleaned_data.items() if v not in (None, "")}
        return form, filters

    def _require_report(self, request):
        if not queries.can_see_all_records(request.user):
            raise PermissionDenied

    def compliance_view(self, request):
        """Counts per course, and one row per person and required course (100 a page)."""
        self._require_report(request)
        form, filters = self._compliance_filters(request)
        count_filters = {k: v for k, v in filters.items() if k != "state"}
        page = CountedPaginator(
            queries.compliance_rows(**filters),
            100,
            count_rows=lambda _rows: queries.compliance_count(**filters),
        ).get_page(request.GET.get("page"))
        page.object_list = queries.shown_rows(page.object_list)
        query = request.GET.copy()
        query.pop("page", None)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Training compliance",
            "form": form,
            "courses": queries.course_counts(**count_filters),
            "page": page,
            "query": query.urlencode(),
            "due_soon_days": queries.due_soon_window().days,
        }
        return TemplateResponse(request, "admin/training/course/compliance.html", context)

    def compliance_csv_view(self, request):
        """Every compliance row (with the page's filters) as CSV, streamed."""
        self._require_report(request)
        _, filters = self._compliance_filters(request)
        rows = queries.compliance_rows(**filters).iterator(chunk_size=2000)
        stamp = timezone.now().strftime("%Y%m%d")
        return csv_response(
            filename=f"training-compliance-{stamp}.csv",
            header=COMPLIANCE_CSV_HEADER,
            rows=(_csv_row(row) for row in rows),
        )


@admin.register(ReminderClock)
class ReminderClockAdmin(ReadOnlyAdmin):
    list_display = ("user_name", "last_sent_at")
    user_name = person_column("user", "person")
    list_select_related = ("user",)
    ordering = ("-last_sent_at", "id")

"""Admin for the training programme; every change goes through the services."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from core.admin import AuditedAdmin
from core.errors import DomainError
from core.exports import csv_response
from core.pagination import CountedPaginator

from . import imports, queries, services
from .models import (
    Course,
    ExerciseEvaluation,
    ImprovementAction,
    ObjectiveResult,
    Record,
    ReminderClock,
    Session,
)

R = Record.Status


def _error(request, exc):
    messages.error(request, exc.message)


def _report_marked(request, label, changed, refused):
    if changed:
        messages.success(request, f"{len(changed)} record(s) marked {label}.")
    for record, why in refused[:20]:
        messages.warning(request, f"{record.user} · {record.session}: {why}")
    if len(refused) > 20:
        messages.warning(request, f"… and {len(refused) - 20} more refused.")
    if not changed and not refused:
        messages.info(request, "Nothing to mark.")


class ServiceFormMixin:
    """Admin change forms that hand the cleaned data to a service (rules and history there)."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            with transaction.atomic():
                return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as exc:
            _error(request, exc)
            return redirect(request.path)


# Courses and compliance


class CourseChangeList(ChangeList):
    def get_results(self, request):
        super().get_results(request)
        # Progress of the courses on this page, one aggregate query for all of them.
        ids = [course.pk for course in self.result_list]
        counts = queries.compliance_counts(course=ids) if ids else {}
        for course in self.result_list:
            course.progress = counts.get(course.pk)


@admin.register(Course)
class CourseAdmin(ServiceFormMixin, AuditedAdmin):
    list_display = ("title", "kind", "validity_days", "required_groups", "progress_display")
    list_filter = ("kind", "required_for")
    list_select_related = ("plan",)
    search_fields = ("title", "description")
    filter_horizontal = ("required_for",)
    autocomplete_fields = ("plan",)
    ordering = ("title", "id")
    fields = ("title", "kind", "description", "content", "required_for", "validity_days", "plan")
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

    def save_model(self, request, obj, form, change):
        data = {name: form.cleaned_data[name] for name in self.fields if name in form.cleaned_data}
        required_for = data.pop("required_for", None)
        if change:
            services.course_update(
                course=obj, actor=request.user, required_for=required_for, **data
            )
        else:
            course = services.course_create(
                actor=request.user, required_for=required_for or (), **data
            )
            obj.pk = course.pk
            obj._state.adding = False

    def save_related(self, request, form, formsets, change):
        # The services stored required_for already (no form.save_m2m).
        for formset in formsets:
            self.save_formset(request, form, formset, change)

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

        header = [
            "user_id",
            "username",
            "full_name",
            "email",
            "course_id",
            "course",
            "state",
            "last_completed_at",
            "valid_until",
        ]

        def rows():
            for row in queries.compliance_rows(**filters).iterator(chunk_size=2000):
                yield [
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

        stamp = timezone.now().strftime("%Y%m%d")
        return csv_response(filename=f"training-compliance-{stamp}.csv", header=header, rows=rows())


class ComplianceFilterForm(forms.Form):
    user = forms.ModelChoiceField(
        queryset=queries.User.objects.filter(is_active=True),
        required=False,
        widget=forms.NumberInput(attrs={"placeholder": "user id"}),
    )
    group = forms.ModelChoiceField(queryset=queries.Group.objects.order_by("name"), required=False)
    course = forms.ModelChoiceField(queryset=Course.objects.order_by("title"), required=False)
    state = forms.ChoiceField(choices=[("", "any")] + queries.State.CHOICES, required=False)


# Sessions, records and evaluations


class RecordForm(forms.ModelForm):
    """A result entered without a time gets the service's default (the session's end)."""

    class Meta:
        model = Record
        fields = ("user", "session", "status", "completed_at", "score")

    def clean(self):
        data = super().clean()
        session = data.get("session") or getattr(self.instance, "session", None)
        if (
            data.get("status") in Record.RESULT_STATUSES
            and not data.get("completed_at")
            and session is not None
        ):
            data["completed_at"] = self.instance.completed_at or services.default_completion_time(
                session, timezone.now()
            )
            self.instance.completed_at = data["completed_at"]
        return data


class RecordInline(admin.TabularInline):
    model = Record
    form = RecordForm
    fields = ("user", "status", "completed_at", "score", "valid_until")
    readonly_fields = ("valid_until",)
    raw_id_fields = ("user",)
    extra = 0
    can_delete = False
    ordering = ("user__last_name", "user__username", "id")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user", "session", "session__course")


class EvaluationInline(admin.StackedInline):
    model = ExerciseEvaluation
    fields = ("time_to_detect", "time_to_escalate", "time_to_contain", "findings")
    extra = 0
    max_num = 1
    can_delete = False
    show_change_link = True
    verbose_name = "after-action evaluation"


@admin.register(Session)
class SessionAdmin(ServiceFormMixin, AuditedAdmin):
    list_display = ("__str__", "course", "starts_at", "location", "facilitator", "status")
    list_filter = ("status", "course__kind", "course")
    list_select_related = ("course", "facilitator")
    search_fields = ("title", "location", "course__title")
    autocomplete_fields = ("course",)
    raw_id_fields = ("facilitator",)
    ordering = ("-starts_at", "-id")
    actions = ("mark_registered_attended", "mark_registered_completed")
    fields = (
        "course",
        "title",
        "starts_at",
        "ends_at",
        "facilitator",
        "location",
        "scenario",
        "objectives",
        "evaluation_criteria",
        "status",
    )

    def get_inlines(self, request, obj):
        if obj is not None and obj.course.is_exercise:
            return (RecordInline, EvaluationInline)
        return (RecordInline,)

    def save_model(self, request, obj, form, change):
        data = {name: form.cleaned_data[name] for name in self.fields if name in form.cleaned_data}
        if change:
            changed = {k: v for k, v in data.items() if k in form.changed_data}
            if changed:
                services.session_update(session=obj, actor=request.user, **changed)
        else:
            session = services.session_create(actor=request.user, **data)
            obj.pk = session.pk
            obj._state.adding = False

    def save_formset(self, request, form, formset, change):
        session = form.instance
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        if formset.model is Record:
            for sub in formset.forms:
                if not sub.has_changed() or not sub.cleaned_data:
                    continue
                data = sub.cleaned_data
                if sub.instance.pk is None:
                    record = services.record_register(
                        actor=request.user,
                        user=data["user"],
                        session=session,
                        status=data.get("status") or R.REGISTERED,
                        completed_at=data.get("completed_at"),
                        score=data.get("score"),
                        reason="Added in the admin",
                    )
                    formset.new_objects.append(record)
                else:
                    services.record_update(
                        record=sub.instance,
                        actor=request.user,
                        status=data.get("status"),
                        completed_at=data.get("completed_at"),
                        score=data.get("score"),
                        reason="Edited in the admin",
                    )
                    formset.changed_objects.append((sub.instance, sub.changed_data))
        elif formset.model is ExerciseEvaluation:
            for sub in formset.forms:
                if not sub.has_changed() or not sub.cleaned_data:
                    continue
                fields = {name: sub.cleaned_data.get(name) for name in services.EVALUATION_FIELDS}
                fields["findings"] = fields["findings"] or ""
                evaluation = services.evaluation_save(session=session, actor=request.user, **fields)
                if sub.instance.pk is None:
                    services.objective_results_from_session(
                        evaluation=evaluation, actor=request.user
                    )
                    formset.new_objects.append(evaluation)
                else:
                    formset.changed_objects.append((evaluation, sub.changed_data))

    def _mark_sessions(self, request, queryset, service, label):
        records = Record.objects.filter(session__in=queryset, status=R.REGISTERED).select_related(
            "session", "user"
        )
        changed, refused = service(records=list(records), actor=request.user)
        _report_marked(request, label, changed, refused)

    @admin.action(description="Mark registrations of selected sessions attended")
    def mark_registered_attended(self, request, queryset):
        if not request.user.has_perm("training.change_record"):
            raise PermissionDenied
        self._mark_sessions(request, queryset, services.mark_attended, "attended")

    @admin.action(description="Mark registrations of selected sessions completed")
    def mark_registered_completed(self, request, queryset):
        if not request.user.has_perm("training.change_record"):
            raise PermissionDenied
        self._mark_sessions(request, queryset, services.mark_completed, "completed")


class ImportForm(forms.Form):
    sheet = forms.FileField(
        required=False, help_text="CSV: username, session, status[, completed_at, score]."
    )
    # The previewed text, posted back to confirm; it is parsed and checked again.
    content = forms.CharField(required=False, widget=forms.HiddenInput)
    source = forms.CharField(required=False, widget=forms.HiddenInput)

    MAX_BYTES = 2 * 1024 * 1024

    def clean(self):
        data = super().clean()
        upload = data.get("sheet")
        if upload is not None:
            if upload.size > self.MAX_BYTES:
                raise forms.ValidationError("The file is larger than 2 MB.")
            try:
                data["content"] = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                raise forms.ValidationError("The file is not UTF-8 text.") from exc
            data["source"] = upload.name.replace("\x00", "")[:200]
        if not data.get("content"):
            raise forms.ValidationError("Choose a CSV file.")
        return data


@admin.register(Record)
class RecordAdmin(AuditedAdmin):
    list_display = (
        "user",
        "session",
        "course_title",
        "status",
        "completed_at",
        "score",
        "valid_until",
    )
    list_filter = ("status", "session__course")
    list_select_related = ("user", "session", "session__course")
    search_fields = ("user__username", "user__last_name", "session__course__title")
    raw_id_fields = ("user", "session")
    ordering = ("-created_at", "-id")
    actions = ("mark_attended", "mark_completed")
    form = RecordForm
    fields = ("user", "session", "status", "completed_at", "score", "valid_until")
    readonly_fields = ("valid_until",)
    change_list_template = "admin/training/record/change_list.html"

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if not queries.can_see_all_records(request.user):
            qs = qs.filter(user=request.user)
        return qs

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:
            return ("user", "session", "valid_until")
        return self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="course", ordering="session__course__title")
    def course_title(self, record):
        return record.session.course.title

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            with transaction.atomic():
                return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as exc:
            _error(request, exc)
            return redirect(request.path)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            services.record_update(
                record=obj,
                actor=request.user,
                status=data.get("status"),
                completed_at=data.get("completed_at"),
                score=data.get("score"),
                reason="Edited in the admin",
            )
        else:
            record = services.record_register(
                actor=request.user,
                user=data["user"],
                session=data["session"],
                status=data.get("status") or R.REGISTERED,
                completed_at=data.get("completed_at"),
                score=data.get("score"),
                reason="Added in the admin",
            )
            obj.pk = record.pk
            obj._state.adding = False

    @admin.action(description="Mark selected records attended", permissions=["change"])
    def mark_attended(self, request, queryset):
        changed, refused = services.mark_attended(
            records=list(queryset.select_related("session", "user")), actor=request.user
        )
        _report_marked(request, "attended", changed, refused)

    @admin.action(description="Mark selected records completed", permissions=["change"])
    def mark_completed(self, request, queryset):
        changed, refused = services.mark_completed(
            records=list(queryset.select_related("session", "user")), actor=request.user
        )
        _report_marked(request, "completed", changed, refused)

    def get_urls(self):
        return [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="training_record_import",
            ),
        ] + super().get_urls()

    def import_view(self, request):
        """Upload a sign-in sheet, see every row checked, then confirm: all rows or none."""
        if not request.user.has_perm("training.import_attendance"):
            raise PermissionDenied
        form = ImportForm(request.POST, request.FILES) if request.method == "POST" else ImportForm()
        rows, sheet_error = None, None
        if request.method == "POST" and form.is_valid():
            content, source = form.cleaned_data["content"], form.cleaned_data["source"]
            try:
                rows = imports.sheet_rows(content)
            except imports.SheetError as exc:
                sheet_error = str(exc)
            if rows is not None and "confirm" in request.POST and not any(r.errors for r in rows):
                try:
                    services.import_attendance(actor=request.user, rows=rows, source=source)
                except services.ImportRejected as exc:
                    rows = exc.rows
                    messages.error(request, exc.message)
                except DomainError as exc:
                    _error(request, exc)
                else:
                    done = sum(1 for r in rows if r.action in ("created", "updated"))
                    messages.success(
                        request, f"Imported {done} row(s) from {source or 'the sheet'}."
                    )
                    return redirect("admin:training_record_changelist")
            form = ImportForm(initial={"content": content, "source": source})
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Import attendance",
            "form": form,
            "rows": rows,
            "sheet_error": sheet_error,
            "has_errors": bool(rows) and any(r.errors for r in rows),
            "error_count": sum(1 for r in rows or () if r.errors),
        }
        return TemplateResponse(request, "admin/training/record/import.html", context)


class ObjectiveResultInline(admin.TabularInline):
    model = ObjectiveResult
    fields = ("objective", "met", "notes")
    extra = 1
    can_delete = False


class ImprovementActionForm(forms.ModelForm):
    request_plan_change = forms.BooleanField(
        required=False,
        label="Ask for a plan change",
        help_text="Raise a change request on the plan named here.",
    )

    class Meta:
        model = ImprovementAction
        fields = ("description", "owner", "due_date", "status", "plan")


class ImprovementActionInline(admin.StackedInline):
    model = ImprovementAction
    form = ImprovementActionForm
    fields = ("description", "owner", "due_date", "status", "plan", "request_plan_change")
    raw_id_fields = ("owner",)
    autocomplete_fields = ("plan",)
    extra = 0
    can_delete = False


@admin.register(ExerciseEvaluation)
class ExerciseEvaluationAdmin(ServiceFormMixin, AuditedAdmin):
    list_display = (
        "session",
        "time_to_detect",
        "time_to_escalate",
        "time_to_contain",
        "evaluated_by",
        "evaluated_at",
    )
    list_select_related = ("session", "session__course", "evaluated_by")
    raw_id_fields = ("session",)
    ordering = ("-evaluated_at", "-id")
    inlines = (ObjectiveResultInline, ImprovementActionInline)
    fields = ("session", "time_to_detect", "time_to_escalate", "time_to_contain", "findings")

    def get_readonly_fields(self, request, obj=None):
        return ("session",) if obj is not None else ()

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data.get(name) for name in services.EVALUATION_FIELDS}
        fields["findings"] = fields["findings"] or ""
        session = obj.session if change else form.cleaned_data["session"]
        evaluation = services.evaluation_save(session=session, actor=request.user, **fields)
        obj.pk = evaluation.pk
        obj._state.adding = False

    def save_formset(self, request, form, formset, change):
        evaluation = ExerciseEvaluation.objects.select_related("session").get(pk=form.instance.pk)
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for sub in formset.forms:
            if not sub.has_changed() or not sub.cleaned_data:
                continue
            data = sub.cleaned_data
            existing = sub.instance if sub.instance.pk else None
            if formset.model is ObjectiveResult:
                saved = services.objective_result_save(
                    evaluation=evaluation,
                    actor=request.user,
                    result=existing,
                    objective=data["objective"],
                    met=data.get("met", False),
                    notes=data.get("notes", ""),
                )
            else:
                saved = services.improvement_action_save(
                    evaluation=evaluation,
                    actor=request.user,
                    action=existing,
                    request_plan_change=data.get("request_plan_change", False),
                    **{name: data.get(name) for name in services.ACTION_FIELDS},
                )
            if existing is None:
                formset.new_objects.append(saved)
            else:
                formset.changed_objects.append((saved, sub.changed_data))


@admin.register(ImprovementAction)
class ImprovementActionAdmin(AuditedAdmin):
    list_display = ("description", "evaluation", "owner", "due_date", "status", "plan")
    list_filter = ("status",)
    list_select_related = ("evaluation", "evaluation__session", "owner", "plan")
    search_fields = ("description",)
    ordering = ("due_date", "id")

    def has_add_permission(self, request):
        return False  # added on their evaluation

    def has_change_permission(self, request, obj=None):
        return False  # changed on their evaluation

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ReminderClock)
class ReminderClockAdmin(AuditedAdmin):
    list_display = ("user", "last_sent_at")
    list_select_related = ("user",)
    ordering = ("-last_sent_at", "id")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

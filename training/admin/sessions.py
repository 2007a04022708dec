"""Admin of sessions: their records and after-action evaluation inline, marking registrations."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied

from core.admin import PeopleByName, PersonFilter, ServiceAdmin, person_column

from .. import services
from ..models import ExerciseEvaluation, Record, Session
from .records import ADDED, EDITED, RecordForm, mark_records


class RecordInline(PeopleByName, admin.TabularInline):
    model = Record
    form = RecordForm
    fields = ("user", "status", "completed_at", "score", "valid_until")
    readonly_fields = ("valid_until",)
    autocomplete_fields = ("user",)
    extra = 0
    can_delete = False
    ordering = ("user__last_name", "user__username", "id")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user", "session", "session__course")


class EvaluationInline(admin.StackedInline):
    model = ExerciseEvaluation
    fields = services.EVALUATION_FIELDS
    extra = 0
    max_num = 1
    can_delete = False
    show_change_link = True
    verbose_name = "after-action evaluation"


def _changed_forms(formset):
    return [sub for sub in formset.forms if sub.has_changed() and sub.cleaned_data]


@admin.register(Session)
class SessionAdmin(ServiceAdmin):
    # The id too: a sign-in sheet may name its session by it (training/imports.py).
    list_display = (
        "__str__",
        "id",
        "course",
        "starts_at",
        "location",
        "facilitator_name",
        "status",
    )
    list_filter = ("status", "course__kind", "course", ("facilitator", PersonFilter))
    facilitator_name = person_column("facilitator")
    list_select_related = ("course", "facilitator")
    search_fields = ("title", "location", "course__title")
    autocomplete_fields = ("course", "facilitator")
    ordering = ("-starts_at", "-id")
    actions = ("mark_registered_attended", "mark_registered_completed")
    fields = services.SESSION_FIELDS
    service_fields = fields
    create_service = services.session_create
    update_service = services.session_update

    def get_inlines(self, request, obj):
        if obj is not None and obj.course.is_exercise:
            return (RecordInline, EvaluationInline)
        return (RecordInline,)

    def save_formset(self, request, form, formset, change):
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        if formset.model is Record:
            self._save_records(request, form.instance, formset)
        elif formset.model is ExerciseEvaluation:
            self._save_evaluation(request, form.instance, formset)

    def _save_records(self, request, session, formset):
        for sub in _changed_forms(formset):
            data = sub.cleaned_data
            result = {
                "status": data.get("status"),
                "completed_at": data.get("completed_at"),
                "score": data.get("score"),
            }
            if sub.instance.pk is None:
                result["status"] = result["status"] or Record.Status.REGISTERED
                record = services.record_register(
                    actor=request.user, user=data["user"], session=session, reason=ADDED, **result
                )
                formset.new_objects.append(record)
            else:
                services.record_update(
                    record=sub.instance, actor=request.user, reason=EDITED, **result
                )
                formset.changed_objects.append((sub.instance, sub.changed_data))

    def _save_evaluation(self, request, session, formset):
        for sub in _changed_forms(formset):
            fields = {name: sub.cleaned_data.get(name) for name in services.EVALUATION_FIELDS}
            fields["findings"] = fields["findings"] or ""
            evaluation = services.evaluation_save(session=session, actor=request.user, **fields)
            if sub.instance.pk is None:
                services.objective_results_from_session(evaluation=evaluation, actor=request.user)
                formset.new_objects.append(evaluation)
            else:
                formset.changed_objects.append((evaluation, sub.changed_data))

    def _mark_registrations(self, request, sessions, service, label):
        if not request.user.has_perm("training.change_record"):
            raise PermissionDenied
        records = Record.objects.filter(
            session__in=sessions, status=Record.Status.REGISTERED
        ).select_related("session", "user")
        mark_records(request, records, service, label)

    @admin.action(description="Mark registrations of selected sessions attended")
    def mark_registered_attended(self, request, queryset):
        self._mark_registrations(request, queryset, services.mark_attended, "attended")

    @admin.action(description="Mark registrations of selected sessions completed")
    def mark_registered_completed(self, request, queryset):
        self._mark_registrations(request, queryset, services.mark_completed, "completed")

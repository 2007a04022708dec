"""Admin of exercise evaluations: objectives met, improvement actions (and plan change requests)."""

from django import forms
from django.contrib import admin

from core.admin import ReadOnlyAdmin, ServiceAdmin

from .. import services
from ..models import ExerciseEvaluation, ImprovementAction, ObjectiveResult


class ObjectiveResultInline(admin.TabularInline):
    model = ObjectiveResult
    fields = services.OBJECTIVE_FIELDS
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
        fields = services.ACTION_FIELDS


class ImprovementActionInline(admin.StackedInline):
    model = ImprovementAction
    form = ImprovementActionForm
    fields = (*services.ACTION_FIELDS, "request_plan_change")
    raw_id_fields = ("owner",)
    autocomplete_fields = ("plan",)
    extra = 0
    can_delete = False


@admin.register(ExerciseEvaluation)
class ExerciseEvaluationAdmin(ServiceAdmin):
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
    fields = ("session", *services.EVALUATION_FIELDS)
    service_fields = fields
    create_service = services.evaluation_save
    update_service = services.evaluation_update
    service_object = "evaluation"

    def get_readonly_fields(self, request, obj=None):
        return ("session",) if obj is not None else ()

    def has_delete_permission(self, request, obj=None):
        return False

    def save_formset(self, request, form, formset, change):
        evaluation = ExerciseEvaluation.objects.select_related("session").get(pk=form.instance.pk)
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for sub in formset.forms:
            if not sub.has_changed() or not sub.cleaned_data:
                continue
            existing = sub.instance if sub.instance.pk else None
            saved = self._save_inline(
                request, evaluation, formset.model, existing, sub.cleaned_data
            )
            if existing is None:
                formset.new_objects.append(saved)
            else:
                formset.changed_objects.append((saved, sub.changed_data))

    def _save_inline(self, request, evaluation, model, existing, data):
        if model is ObjectiveResult:
            return services.objective_result_save(
                evaluation=evaluation,
                actor=request.user,
                result=existing,
                objective=data["objective"],
                met=data.get("met", False),
                notes=data.get("notes", ""),
            )
        return services.improvement_action_save(
            evaluation=evaluation,
            actor=request.user,
            action=existing,
            request_plan_change=data.get("request_plan_change", False),
            **{name: data.get(name) for name in services.ACTION_FIELDS},
        )


@admin.register(ImprovementAction)
class ImprovementActionAdmin(ReadOnlyAdmin):
    """Added and changed on their evaluation."""

    list_display = ("description", "evaluation", "owner", "due_date", "status", "plan")
    list_filter = ("status",)
    list_select_related = ("evaluation", "evaluation__session", "owner", "plan")
    search_fields = ("description",)
    ordering = ("due_date", "id")

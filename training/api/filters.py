"""Filters of the training API lists."""

import django_filters

from core.fields import after_and_before

from ..models import Course, ExerciseEvaluation, Record, Session


class CourseFilter(django_filters.FilterSet):
    required_for = django_filters.CharFilter(
        field_name="required_for__name", help_text="Group name.", distinct=True
    )

    class Meta:
        model = Course
        fields = ("kind", "plan", "required_for")


class SessionFilter(django_filters.FilterSet):
    starts_after, starts_before = after_and_before("starts_at")

    class Meta:
        model = Session
        fields = ("course", "status", "facilitator")


class RecordFilter(django_filters.FilterSet):
    course = django_filters.NumberFilter(field_name="session__course")
    completed_after, completed_before = after_and_before("completed_at")
    valid_until_after, valid_until_before = after_and_before("valid_until")

    class Meta:
        model = Record
        fields = ("user", "session", "course", "status")


class EvaluationFilter(django_filters.FilterSet):
    course = django_filters.ModelChoiceFilter(
        field_name="session__course", queryset=Course.objects.all(), help_text="Course id."
    )
    evaluated_after, evaluated_before = after_and_before("evaluated_at")

    class Meta:
        model = ExerciseEvaluation
        fields = ("session", "course")

"""Filters of the training API lists."""

import django_filters

from core.fields import IsoDateTimeFilter

from ..models import Course, ExerciseEvaluation, Record, Session


class CourseFilter(django_filters.FilterSet):
    required_for = django_filters.CharFilter(
        field_name="required_for__name", help_text="Group name.", distinct=True
    )

    class Meta:
        model = Course
        fields = ("kind", "plan", "required_for")


class SessionFilter(django_filters.FilterSet):
    starts_after = IsoDateTimeFilter(field_name="starts_at", lookup_expr="gte")
    starts_before = IsoDateTimeFilter(field_name="starts_at", lookup_expr="lt")

    class Meta:
        model = Session
        fields = ("course", "status", "facilitator")


class RecordFilter(django_filters.FilterSet):
    course = django_filters.NumberFilter(field_name="session__course")
    completed_after = IsoDateTimeFilter(field_name="completed_at", lookup_expr="gte")
    completed_before = IsoDateTimeFilter(field_name="completed_at", lookup_expr="lt")
    valid_until_after = IsoDateTimeFilter(field_name="valid_until", lookup_expr="gte")
    valid_until_before = IsoDateTimeFilter(field_name="valid_until", lookup_expr="lt")

    class Meta:
        model = Record
        fields = ("user", "session", "course", "status")


class EvaluationFilter(django_filters.FilterSet):
    course = django_filters.ModelChoiceFilter(
        field_name="session__course", queryset=Course.objects.all(), help_text="Course id."
    )
    evaluated_after = IsoDateTimeFilter(field_name="evaluated_at", lookup_expr="gte")
    evaluated_before = IsoDateTimeFilter(field_name="evaluated_at", lookup_expr="lt")

    class Meta:
        model = ExerciseEvaluation
        fields = ("session", "course")

"""Filters of the plans API lists."""

import django_filters

from core.fields import IsoDateTimeFilter

from ..models import Acknowledgement, Plan, PlanVersion


class PlanFilter(django_filters.FilterSet):
    class Meta:
        model = Plan
        fields = ("code", "owner")


class VersionFilter(django_filters.FilterSet):
    published_after = IsoDateTimeFilter(field_name="published_at", lookup_expr="gte")
    published_before = IsoDateTimeFilter(field_name="published_at", lookup_expr="lt")

    class Meta:
        model = PlanVersion
        fields = ("plan", "status", "number")


class AcknowledgementFilter(django_filters.FilterSet):
    plan = django_filters.NumberFilter(field_name="version__plan")
    acknowledged_after = IsoDateTimeFilter(
        field_name="acknowledged_at", lookup_expr="gte"
    )
    acknowledged_before = IsoDateTimeFilter(
        field_name="acknowledged_at", lookup_expr="lt"
    )

    class Meta:
        model = Acknowledgement
        fields = ("version", "user", "plan")

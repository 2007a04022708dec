"""Filters of the plans API lists."""

import django_filters

from core.fields import after_and_before

from ..models import Acknowledgement, Plan, PlanVersion


class PlanFilter(django_filters.FilterSet):
    class Meta:
        model = Plan
        fields = ("code", "owner")


class VersionFilter(django_filters.FilterSet):
    published_after, published_before = after_and_before("published_at")

    class Meta:
        model = PlanVersion
        fields = ("plan", "status", "number")


class AcknowledgementFilter(django_filters.FilterSet):
    plan = django_filters.NumberFilter(field_name="version__plan")
    acknowledged_after, acknowledged_before = after_and_before("acknowledged_at")

    class Meta:
        model = Acknowledgement
        fields = ("version", "user", "plan")

"""Thin API views over the training services and queries."""

from django import forms
from django.contrib.auth.models import Group
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView

from core.api import ServiceViewSet, documented_writes
from core.pagination import CountedPagination

from .. import queries, services
from ..models import Record
from . import serializers
from .filters import CourseFilter, EvaluationFilter, RecordFilter, SessionFilter

MAX_ID = 2**63 - 1


@documented_writes(
    serializers.CourseSerializer,
    create=serializers.CourseWriteSerializer,
    update=serializers.CourseWriteSerializer,
)
class CourseViewSet(ServiceViewSet):
    """Courses, awareness briefings, drills and exercises, and the groups that must complete them."""

    queryset = queries.courses_list()
    serializer_class = serializers.CourseSerializer
    write_serializer_class = serializers.CourseWriteSerializer
    create_service = services.course_create
    update_service = services.course_update
    filterset_class = CourseFilter
    search_fields = ("title", "description")
    ordering_fields = ("title", "kind", "validity_days", "created_at")
    ordering = ("title", "id")


@documented_writes(
    serializers.SessionSerializer,
    create=serializers.SessionWriteSerializer,
    update=serializers.SessionWriteSerializer,
)
class SessionViewSet(ServiceViewSet):
    """Scheduled sessions of courses: facilitator, times, place, scenario, objectives, status."""

    queryset = queries.sessions_list()
    serializer_class = serializers.SessionSerializer
    write_serializer_class = serializers.SessionWriteSerializer
    create_service = services.session_create
    update_service = services.session_update
    filterset_class = SessionFilter
    search_fields = ("title", "location", "course__title")
    ordering_fields = ("starts_at", "ends_at", "status")
    ordering = ("-starts_at", "-id")


@documented_writes(
    serializers.RecordSerializer,
    create=serializers.RecordCreateSerializer,
    update=serializers.RecordWriteSerializer,
)
class RecordViewSet(ServiceViewSet):
    """Attendance and completion records; staff see only their own and write none."""

    serializer_class = serializers.RecordSerializer
    write_serializer_class = serializers.RecordWriteSerializer
    create_service = services.record_register
    update_service = services.record_update
    filterset_class = RecordFilter
    search_fields = ("user__username", "user__last_name", "session__course__title")
    ordering_fields = ("created_at", "completed_at", "valid_until", "status")
    ordering = ("-created_at", "-id")

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Record.objects.none()
        return queries.records_for(self.request.user)

    def write_serializer(self, *, data, instance=None):
        if instance is None:  # a new record names its person and session too
            return serializers.RecordCreateSerializer(
                data=data, context=self.get_serializer_context()
            )
        return super().write_serializer(data=data, instance=instance)


class EvaluationViewSet(ServiceViewSet):
    """After-action evaluations of exercises (read here; written in the admin), for those who
    may read them (coordinators, compliance)."""

    queryset = queries.evaluations_list()
    serializer_class = serializers.EvaluationSerializer
    filterset_class = EvaluationFilter
    search_fields = ("findings", "session__title", "session__course__title")
    ordering_fields = ("evaluated_at",)
    ordering = ("-evaluated_at", "-id")


class ComplianceParams(forms.Form):
    user = forms.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    course = forms.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    group = forms.ModelChoiceField(
        queryset=Group.objects.all(), to_field_name="name", required=False
    )
    state = forms.ChoiceField(choices=[("", "")] + queries.State.CHOICES, required=False)


class ComplianceView(GenericAPIView):
    """One row per person and required course: state, last completion and its expiry.

    Compliance and coordinators see everyone; everyone else sees their own rows.
    """

    serializer_class = serializers.ComplianceRowSerializer
    filter_backends = []
    pagination_class = CountedPagination

    @extend_schema(
        parameters=[
            OpenApiParameter("user", OpenApiTypes.INT, description="User id."),
            OpenApiParameter("course", OpenApiTypes.INT, description="Course id."),
            OpenApiParameter(
                "group",
                OpenApiTypes.STR,
                description="Group name: its members, and the courses it requires.",
            ),
            OpenApiParameter("state", OpenApiTypes.STR, enum=queries.State.ALL),
        ],
        responses=serializers.ComplianceRowSerializer(many=True),
    )
    def get(self, request):
        params = ComplianceParams(request.query_params)
        if not params.is_valid():
            raise ValidationError(params.errors)
        filters = {k: v for k, v in params.cleaned_data.items() if v not in (None, "")}
        if not queries.can_see_all_records(request.user):
            if filters.get("user", request.user.pk) != request.user.pk:
                filters["user"] = 0  # someone else's rows: none
            else:
                filters["user"] = request.user.pk
        rows = queries.compliance_rows(**filters)
        self.count_rows = lambda _rows: queries.compliance_count(**filters)
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(
            serializers.ComplianceRowSerializer(page, many=True).data
        )

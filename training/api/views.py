"""Thin API views over the training services and queries."""

from django import forms
from django.contrib.auth.models import Group
from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView

from core.api import (
    AuditedViewMixin,
    ETagMixin,
    HistoryMixin,
    ModelPermissions,
    check_if_match,
    with_etag,
)
from core.pagination import CountedPagination

from .. import queries, services
from ..models import Record
from . import serializers as s
from .filters import CourseFilter, RecordFilter, SessionFilter

MAX_ID = 2**63 - 1


class _TrainingViewSet(
    AuditedViewMixin,
    HistoryMixin,
    ETagMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    permission_classes = [permissions.IsAuthenticated, ModelPermissions]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def _read(self, instance):
        instance = self.get_queryset().get(pk=instance.pk)
        return self.get_serializer_class()(instance, context=self.get_serializer_context()).data


class CourseViewSet(_TrainingViewSet):
    """Courses, awareness briefings, drills and exercises, and the groups that must complete them."""

    serializer_class = s.CourseSerializer
    filterset_class = CourseFilter
    search_fields = ("title", "description")
    ordering_fields = ("title", "kind", "validity_days", "created_at")
    ordering = ("title", "id")

    def get_queryset(self):
        return queries.courses_list()

    @extend_schema(request=s.CourseWriteSerializer, responses={201: s.CourseSerializer})
    def create(self, request, *args, **kwargs):
        serializer = s.CourseWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        course = services.course_create(actor=request.user, **serializer.validated_data)
        return with_etag(self._read(course), course, status.HTTP_201_CREATED)

    @extend_schema(request=s.CourseWriteSerializer, responses=s.CourseSerializer)
    @transaction.atomic  # the If-Match check and the write see the same locked row
    def partial_update(self, request, *args, **kwargs):
        course = self.get_object_for_update()
        check_if_match(request, course)
        serializer = s.CourseWriteSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        required_for = data.pop("required_for", None)
        course = services.course_update(
            course=course, actor=request.user, required_for=required_for, **data
        )
        return with_etag(self._read(course), course)


class SessionViewSet(_TrainingViewSet):
    """Scheduled sessions of courses: facilitator, times, place, scenario, objectives, status."""

    serializer_class = s.SessionSerializer
    filterset_class = SessionFilter
    search_fields = ("title", "location", "course__title")
    ordering_fields = ("starts_at", "ends_at", "status")
    ordering = ("-starts_at", "-id")

    def get_queryset(self):
        return queries.sessions_list()

    @extend_schema(request=s.SessionWriteSerializer, responses={201: s.SessionSerializer})
    def create(self, request, *args, **kwargs):
        serializer = s.SessionWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        data.pop("reason", None)
        session = services.session_create(actor=request.user, **data)
        return with_etag(self._read(session), session, status.HTTP_201_CREATED)

    @extend_schema(request=s.SessionWriteSerializer, responses=s.SessionSerializer)
    @transaction.atomic  # the If-Match check and the write see the same locked row
    def partial_update(self, request, *args, **kwargs):
        session = self.get_object_for_update()
        check_if_match(request, session)
        serializer = s.SessionWriteSerializer(session, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        reason = data.pop("reason", "")
        session = services.session_update(
            session=session, actor=request.user, reason=reason, **data
        )
        return with_etag(self._read(session), session)


class RecordViewSet(_TrainingViewSet):
    """Attendance and completion records; staff see only their own and write none."""

    serializer_class = s.RecordSerializer
    filterset_class = RecordFilter
    search_fields = ("user__username", "user__last_name", "session__course__title")
    ordering_fields = ("created_at", "completed_at", "valid_until", "status")
    ordering = ("-created_at", "-id")

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Record.objects.none()
        return queries.records_for(self.request.user)

    @extend_schema(request=s.RecordCreateSerializer, responses={201: s.RecordSerializer})
    def create(self, request, *args, **kwargs):
        serializer = s.RecordCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        record = services.record_register(actor=request.user, **data)
        return with_etag(self._read(record), record, status.HTTP_201_CREATED)

    @extend_schema(request=s.RecordWriteSerializer, responses=s.RecordSerializer)
    @transaction.atomic  # the If-Match check and the write see the same locked row
    def partial_update(self, request, *args, **kwargs):
        record = self.get_object_for_update()
        check_if_match(request, record)
        serializer = s.RecordWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        record = services.record_update(
            record=record, actor=request.user, **serializer.validated_data
        )
        return with_etag(self._read(record), record)


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

    serializer_class = s.ComplianceRowSerializer
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
        responses=s.ComplianceRowSerializer(many=True),
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
        return self.get_paginated_response(s.ComplianceRowSerializer(page, many=True).data)

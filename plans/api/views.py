"""Thin API views over the plans services and queries."""

from django.db import transaction
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.response import Response

from core.api import (
    AuditedViewMixin,
    ETagMixin,
    HistoryMixin,
    ModelPermissions,
    check_if_match,
    with_etag,
)
from core.http import client_ip
from core.parsing import parse_id

from .. import queries, services
from ..models import Acknowledgement, PlanChangeRequest, PlanVersion, Review, Section
from . import serializers as s
from .filters import AcknowledgementFilter, PlanFilter, VersionFilter


class CanViewPlans(permissions.BasePermission):
    """Custom actions need the right to read plan versions; services check the rest."""

    def has_permission(self, request, view):
        return request.user.has_perm("plans.view_planversion")


ACTION_PERMISSIONS = [permissions.IsAuthenticated, CanViewPlans]


class PlanViewSet(
    AuditedViewMixin,
    HistoryMixin,
    ETagMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Response plans with their current published version."""

    permission_classes = [permissions.IsAuthenticated, ModelPermissions]
    filterset_class = PlanFilter
    search_fields = ("code", "title")
    ordering_fields = ("code", "title", "created_at")
    ordering = ("code",)
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return queries.plans_list()

    def get_serializer_class(self):
        if self.action == "versions":
            return s.VersionListSerializer
        return s.PlanSerializer

    def _read(self, plan):
        plan = self.get_queryset().get(pk=plan.pk)
        return s.PlanSerializer(plan, context=self.get_serializer_context()).data

    @extend_schema(request=s.PlanWriteSerializer, responses={201: s.PlanSerializer})
    def create(self, request, *args, **kwargs):
        serializer = s.PlanWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        plan = services.plan_create(actor=request.user, **serializer.validated_data)
        return with_etag(self._read(plan), plan, status.HTTP_201_CREATED)

    @extend_schema(request=s.PlanWriteSerializer, responses=s.PlanSerializer)
    @transaction.atomic  # the If-Match check and the write see the same locked row
    def partial_update(self, request, *args, **kwargs):
        plan = self.get_object_for_update()
        check_if_match(request, plan)
        serializer = s.PlanWriteSerializer(plan, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        plan = services.plan_update(plan=plan, actor=request.user, **serializer.validated_data)
        return with_etag(self._read(plan), plan)

    @extend_schema(methods=["GET"], responses=s.VersionListSerializer(many=True), filters=False)
    @extend_schema(methods=["POST"], request=None, responses={201: s.VersionSerializer})
    @action(
        detail=True,
        methods=["get", "post"],
        permission_classes=ACTION_PERMISSIONS,
        filter_backends=[],
    )
    def versions(self, request, pk=None):
        """GET: the plan's versions the user may see. POST: start a new draft."""
        plan = self.get_object()
        if request.method == "POST":
            version = services.version_create_draft(plan=plan, actor=request.user)
            data = s.VersionSerializer(queries.version_detail(request.user).get(pk=version.pk)).data
            return Response(data, status=status.HTTP_201_CREATED)
        page = self.paginate_queryset(queries.versions_list(request.user, plan=plan))
        return self.get_paginated_response(s.VersionListSerializer(page, many=True).data)


class PlanVersionViewSet(
    AuditedViewMixin,
    HistoryMixin,
    ETagMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Plan versions: read, edit a draft, the review workflow, acknowledgements, compliance, diffs."""

    permission_classes = [permissions.IsAuthenticated, ModelPermissions]
    filterset_class = VersionFilter
    ordering_fields = ("number", "published_at")
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        if self.action == "list":
            return queries.versions_list(self.request.user)
        return queries.version_detail(self.request.user).prefetch_related(
            Prefetch("reviews", queryset=Review.objects.order_by("created_at", "id"))
        )

    def get_serializer_class(self):
        # The browsable API builds each action's form from this: a section's PATCH form must
        # be the section's fields, not the version's (it rendered a Section as a version: 500).
        if self.action == "section":
            return s.SectionWriteSerializer
        return s.VersionListSerializer if self.action == "list" else s.VersionSerializer

    def _read(self, version):
        return s.VersionSerializer(self.get_queryset().get(pk=version.pk)).data

    @extend_schema(request=s.VersionWriteSerializer, responses=s.VersionSerializer)
    @transaction.atomic  # the If-Match check and the write see the same locked row
    def partial_update(self, request, *args, **kwargs):
        version = self.get_object_for_update()
        check_if_match(request, version)
        serializer = s.VersionWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        version = services.version_update(
            version=version, actor=request.user, **serializer.validated_data
        )
        return with_etag(self._read(version), version)

    @extend_schema(methods=["GET"], responses=s.SectionSerializer)
    @extend_schema(
        methods=["PATCH"], request=s.SectionWriteSerializer, responses=s.SectionSerializer
    )
    @action(
        detail=True,
        methods=["get", "patch"],
        url_path=r"sections/(?P<key>[^/]+)",
        permission_classes=ACTION_PERMISSIONS,
        filter_backends=[],
    )
    def section(self, request, pk=None, key=None):
        """One section by key. PATCH edits `heading` and/or `body` while the version is a draft."""
        version = self.get_object()
        section = get_object_or_404(Section, version=version, key=key)
        if request.method == "PATCH":
            with transaction.atomic():  # the If-Match check and the write see the same locked row
                section = Section.objects.select_for_update().get(pk=section.pk)
                check_if_match(request, section)
                serializer = s.SectionWriteSerializer(data=request.data)
                serializer.is_valid(raise_exception=True)
                section = services.section_update(
                    section=section, actor=request.user, **serializer.validated_data
                )
        return with_etag(s.SectionSerializer(section).data, section)

    def _step(self, request, service):
        version = self.get_object()
        serializer = s.CommentSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        service(version=version, actor=request.user, comment=serializer.validated_data["comment"])
        return with_etag(self._read(version), version)

    @extend_schema(request=s.CommentSerializer, responses=s.VersionSerializer)
    @action(detail=True, methods=["post"], permission_classes=ACTION_PERMISSIONS)
    def submit(self, request, pk=None):
        return self._step(request, services.version_submit)

    @extend_schema(request=s.CommentSerializer, responses=s.VersionSerializer)
    @action(detail=True, methods=["post"], permission_classes=ACTION_PERMISSIONS)
    def approve(self, request, pk=None):
        return self._step(request, services.version_approve)

    @extend_schema(request=s.CommentSerializer, responses=s.VersionSerializer)
    @action(
        detail=True,
        methods=["post"],
        url_path="request-changes",
        permission_classes=ACTION_PERMISSIONS,
    )
    def request_changes(self, request, pk=None):
        return self._step(request, services.version_request_changes)

    @extend_schema(request=s.CommentSerializer, responses=s.VersionSerializer)
    @action(detail=True, methods=["post"], permission_classes=ACTION_PERMISSIONS)
    def publish(self, request, pk=None):
        return self._step(request, services.version_publish)

    @extend_schema(
        request=s.AcknowledgeSerializer,
        responses={201: s.AcknowledgementSerializer, 200: s.AcknowledgementSerializer},
    )
    @action(detail=True, methods=["post"], permission_classes=ACTION_PERMISSIONS)
    def acknowledge(self, request, pk=None):
        """Acknowledge the published version as the requesting user (201 first time, 200 after)."""
        version = self.get_object()
        serializer = s.AcknowledgeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        acknowledgement, created = services.acknowledgement_create(
            version=version,
            actor=request.user,
            ip_address=client_ip(request),
            user_agent=request.headers.get("User-Agent", ""),
            **serializer.validated_data,
        )
        return Response(
            s.AcknowledgementSerializer(acknowledgement).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(responses=s.ComplianceSerializer, filters=False)
    @action(detail=True, methods=["get"], permission_classes=ACTION_PERMISSIONS, filter_backends=[])
    def compliance(self, request, pk=None):
        """Who in the audience acknowledged this version; compliance and coordinators only."""
        if not queries.can_see_all_acknowledgements(request.user):
            raise PermissionDenied(
                "The compliance report is for compliance staff and coordinators."
            )
        version = self.get_object()
        summary = queries.compliance_summary(version)
        outstanding = [
            {"id": pk, "username": username, "full_name": f"{first} {last}".strip()}
            for pk, username, first, last in queries.outstanding_users(version).values_list(
                "pk", "username", "first_name", "last_name"
            )
        ]
        return Response({"version": version.pk, **summary, "outstanding_users": outstanding})

    @extend_schema(
        parameters=[OpenApiParameter("against", OpenApiTypes.INT, required=True)],
        responses=OpenApiTypes.OBJECT,
        filters=False,
    )
    @action(detail=True, methods=["get"], permission_classes=ACTION_PERMISSIONS, filter_backends=[])
    def diff(self, request, pk=None):
        """Section-by-section word differences from version `against` to this one (same plan)."""
        version = self.get_object()
        against = parse_id(request.query_params.get("against"))
        if against is None:
            raise ValidationError({"against": ["Give the id of another version of this plan."]})
        other = (
            queries.visible_versions(request.user)
            .filter(pk=against, plan_id=version.plan_id)
            .select_related("plan")
            .first()
        )
        if other is None:
            raise ValidationError({"against": ["No version with this id in the same plan."]})
        return Response(queries.version_diff(other, version))


class AcknowledgementViewSet(
    AuditedViewMixin,
    HistoryMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Acknowledgements: one's own for staff, everyone's for compliance and coordinators."""

    permission_classes = [permissions.IsAuthenticated, ModelPermissions]
    serializer_class = s.AcknowledgementSerializer
    filterset_class = AcknowledgementFilter
    ordering_fields = ("acknowledged_at",)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Acknowledgement.objects.none()
        return queries.acknowledgements_for(self.request.user)


class PlanChangeRequestViewSet(
    AuditedViewMixin,
    HistoryMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Requests to change a plan (raised by reviews and exercises), read-only here."""

    def history_mask(self, instance):
        return queries.change_request_history_mask(self.request.user, instance)

    permission_classes = [permissions.IsAuthenticated, ModelPermissions]
    serializer_class = s.ChangeRequestListSerializer
    filterset_fields = ("plan", "status")
    search_fields = ("summary", "details", "source")
    ordering_fields = ("created_at",)

    def get_queryset(self):
        return PlanChangeRequest.objects.select_related("requested_by").order_by(
            "-created_at", "-id"
        )


class PendingAcknowledgementsView(ListAPIView):
    """Published versions the requesting user still has to acknowledge."""

    serializer_class = s.PendingSerializer
    filter_backends = []

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return PlanVersion.objects.none()
        return queries.pending_acknowledgements(self.request.user)

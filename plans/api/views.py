"""Thin API views over the plans services and queries."""

from django.db import transaction
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.response import Response

from core.api import EvidenceMixin, ServiceViewSet, check_if_match, documented_writes, with_etag
from core.http import client_ip
from core.parsing import parse_id
from core.signing import authenticate_signer

from .. import bundle, queries, services
from ..models import Acknowledgement, PlanChangeRequest, PlanVersion, Review, Section
from . import serializers
from .filters import AcknowledgementFilter, PlanFilter, VersionFilter


class CanViewPlans(permissions.BasePermission):
    """Custom actions need the right to read plan versions; services check the rest."""

    def has_permission(self, request, view):
        return request.user.has_perm("plans.view_planversion")


ACTION_PERMISSIONS = [permissions.IsAuthenticated, CanViewPlans]


@documented_writes(
    serializers.PlanSerializer,
    create=serializers.PlanWriteSerializer,
    update=serializers.PlanWriteSerializer,
)
class PlanViewSet(ServiceViewSet):
    """Response plans with their current published version."""

    serializer_class = serializers.PlanSerializer
    write_serializer_class = serializers.PlanWriteSerializer
    create_service = services.plan_create
    update_service = services.plan_update
    filterset_class = PlanFilter
    search_fields = ("code", "title")
    ordering_fields = ("code", "title", "created_at")
    ordering = ("code",)

    def get_queryset(self):
        return queries.plans_list()

    def get_serializer_class(self):
        if self.action == "versions":
            return serializers.VersionListSerializer
        return super().get_serializer_class()

    @extend_schema(
        methods=["GET"], responses=serializers.VersionListSerializer(many=True), filters=False
    )
    @extend_schema(methods=["POST"], request=None, responses={201: serializers.VersionSerializer})
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
            version = queries.version_detail(request.user).get(pk=version.pk)
            data = serializers.VersionSerializer(
                version, context=self.get_serializer_context()
            ).data
            return Response(data, status=status.HTTP_201_CREATED)
        page = self.paginate_queryset(queries.versions_list(request.user, plan=plan))
        return self.get_paginated_response(serializers.VersionListSerializer(page, many=True).data)


def _workflow_step(name, service, **options):
    """A version's workflow step as an action: POST a comment, `service` takes the step."""

    def step(self, request, pk=None):
        return self._step(request, service)

    step.__name__ = step.__qualname__ = name  # the action's URL and route name
    options.update(detail=True, methods=["post"], permission_classes=ACTION_PERMISSIONS)
    schema = extend_schema(
        request=serializers.CommentSerializer, responses=serializers.VersionSerializer
    )
    return schema(action(**options)(step))


@documented_writes(serializers.VersionSerializer, update=serializers.VersionWriteSerializer)
class PlanVersionViewSet(EvidenceMixin, ServiceViewSet):
    """Plan versions: read, edit a draft, the review workflow, acknowledgements, compliance, diffs."""

    serializer_class = serializers.VersionSerializer
    list_serializer_class = serializers.VersionListSerializer
    write_serializer_class = serializers.VersionWriteSerializer
    update_service = services.version_update
    service_object = "version"
    filterset_class = VersionFilter
    ordering_fields = ("number", "published_at")

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
            return serializers.SectionWriteSerializer
        return super().get_serializer_class()

    @extend_schema(methods=["GET"], responses=serializers.SectionSerializer)
    @extend_schema(
        methods=["PATCH"],
        request=serializers.SectionWriteSerializer,
        responses=serializers.SectionSerializer,
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
                serializer = serializers.SectionWriteSerializer(data=request.data)
                serializer.is_valid(raise_exception=True)
                section = services.section_update(
                    section=section, actor=request.user, **serializer.validated_data
                )
        return with_etag(serializers.SectionSerializer(section).data, section)

    def _step(self, request, service):
        version = self.get_object()
        serializer = serializers.CommentSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        proof = authenticate_signer(request, request.user, serializer.validated_data["password"])
        service(
            version=version,
            actor=request.user,
            proof=proof,
            comment=serializer.validated_data["comment"],
        )
        return self.respond(version)

    submit = _workflow_step("submit", services.version_submit)
    approve = _workflow_step("approve", services.version_approve)
    request_changes = _workflow_step(
        "request_changes", services.version_request_changes, url_path="request-changes"
    )
    publish = _workflow_step("publish", services.version_publish)

    @extend_schema(
        request=serializers.AcknowledgeSerializer,
        responses={
            201: serializers.AcknowledgementSerializer,
            200: serializers.AcknowledgementSerializer,
        },
    )
    @action(detail=True, methods=["post"], permission_classes=ACTION_PERMISSIONS)
    def acknowledge(self, request, pk=None):
        """Acknowledge the published version as the requesting user (201 first time, 200 after)."""
        version = self.get_object()
        serializer = serializers.AcknowledgeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        proof = authenticate_signer(request, request.user, data.pop("password"))
        acknowledgement, created = services.acknowledgement_create(
            version=version,
            actor=request.user,
            proof=proof,
            ip_address=client_ip(request),
            user_agent=request.headers.get("User-Agent", ""),
            **data,
        )
        return Response(
            serializers.AcknowledgementSerializer(acknowledgement).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    def evidence_bundle(self, instance):
        return bundle.version_bundle(instance, self.request.user)

    @extend_schema(responses=serializers.SignatureSerializer(many=True), filters=False)
    @action(detail=True, methods=["get"], permission_classes=ACTION_PERMISSIONS, filter_backends=[])
    def signatures(self, request, pk=None):
        """The electronic signatures on this version: printed name, when, meaning, fingerprint.
        Acknowledgements other than one's own only for compliance staff and coordinators."""
        version = self.get_object()
        return Response(
            serializers.SignatureSerializer(
                queries.signatures_of(version, request.user), many=True
            ).data
        )

    @extend_schema(responses=serializers.ComplianceSerializer, filters=False)
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


class AcknowledgementViewSet(ServiceViewSet):
    """Acknowledgements: one's own for staff, everyone's for compliance and coordinators."""

    serializer_class = serializers.AcknowledgementSerializer
    filterset_class = AcknowledgementFilter
    ordering_fields = ("acknowledged_at",)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Acknowledgement.objects.none()
        return queries.acknowledgements_for(self.request.user)


class PlanChangeRequestViewSet(ServiceViewSet):
    """Requests to change a plan (raised by reviews and exercises), read-only here."""

    serializer_class = serializers.ChangeRequestListSerializer
    filterset_fields = ("plan", "status")
    search_fields = ("summary", "details", "source")
    ordering_fields = ("created_at",)

    def get_queryset(self):
        return PlanChangeRequest.objects.select_related("requested_by").order_by(
            "-created_at", "-id"
        )

    def history_mask(self, instance):
        return queries.change_request_history_mask(self.request.user, instance)


class PendingAcknowledgementsView(ListAPIView):
    """Published versions the requesting user still has to acknowledge."""

    serializer_class = serializers.PendingSerializer
    filter_backends = []

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return PlanVersion.objects.none()
        return queries.pending_acknowledgements(self.request.user)

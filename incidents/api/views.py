"""Thin API views over the incident services and queries."""

import zoneinfo
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import (
    AuditedViewMixin,
    ETagMixin,
    EvidenceMixin,
    HistoryMixin,
    ServiceViewSet,
    check_if_match,
    offered_with,
    with_etag,
)
from core.fields import IsoDateTimeFilter
from core.pagination import CountedPagination
from core.parsing import MultiPartParser, parse_id, parse_int
from core.timezones import zone_name_of
from incidents import bundle, metrics, queries, services
from incidents.models import Action, Category, Escalation, Incident, PostIncidentReview, TeamMember

from . import serializers, workspace
from .attachments import AttachmentSerializer, AttachmentUploadSerializer
from .obligations import ObligationActionsMixin


class IncidentFilter(filters.FilterSet):
    category = filters.ModelChoiceFilter(
        queryset=Category.objects.all(),
        null_label="Unclassified (awaiting triage)",
        label="Category id, or `null` for reports not yet classified",
    )
    reported_after = IsoDateTimeFilter(field_name="reported_at", lookup_expr="gte")
    reported_before = IsoDateTimeFilter(field_name="reported_at", lookup_expr="lt")
    breached = filters.BooleanFilter(
        method="filter_breached", label="Open with a response target breached right now"
    )

    class Meta:
        model = Incident
        fields = ("status", "priority", "category", "confidential", "incident_manager")

    def filter_breached(self, queryset, name, value):
        breached = queries.breached_filter()
        return queryset.filter(breached) if value else queryset.exclude(breached)


# A multipart body may carry this much besides the file (its headers and the other fields).
UPLOAD_OVERHEAD_BYTES = 64 * 1024


def refuse_oversized_upload(request):
    """413 before a body larger than any accepted file is read (and spooled to disk)."""
    length = parse_int(request.META.get("CONTENT_LENGTH"), minimum=0, maximum=2**63 - 1)
    if length is not None and length > settings.ATTACHMENT_MAX_BYTES + UPLOAD_OVERHEAD_BYTES:
        raise services.FileTooLarge(
            f"The file is larger than {settings.ATTACHMENT_MAX_BYTES:,} bytes, the most accepted.",
            field="file",
        )


class HasPerm(permissions.BasePermission):
    """The permission named by the view for the current action (`action_perms`)."""

    def has_permission(self, request, view):
        perm = view.action_perms.get(view.action, {}).get(request.method)
        return perm is None or request.user.has_perm(perm)


CHANGE = "incidents.change_incident"
# The only actions open to someone who reported an incident but may not otherwise see it.
REPORTER_ACTIONS = {"retrieve", "create"}
# The actions that answer with the incident's detail (its team among it).
DETAIL_ACTIONS = {"retrieve", "partial_update", "create", "transition"}
# Query parameters that page or sort the incident list without narrowing it.
UNNARROWING_PARAMS = {"page", "page_size", "ordering", "format"}


def nested_list(serializer_class):
    """Route and describe one of an incident's lists: GET a page of it, POST one more row."""

    def decorate(method):
        method = action(detail=True, methods=["get", "post"], filter_backends=[])(method)
        method = extend_schema(
            methods=["POST"], request=serializer_class, responses={201: serializer_class}
        )(method)
        return extend_schema(methods=["GET"], responses=serializer_class(many=True), filters=False)(
            method
        )

    return decorate


class IncidentViewSet(EvidenceMixin, ObligationActionsMixin, ServiceViewSet):
    """Incidents: report, read, edit descriptive fields, move through the lifecycle, escalate."""

    permission_classes = [permissions.IsAuthenticated, HasPerm]
    filterset_class = IncidentFilter
    search_fields = ("reference", "title", "description", "affected_service")
    ordering_fields = ("reported_at", "occurred_at", "priority", "status", "reference")
    ordering = ("-reported_at", "-id")
    pagination_class = CountedPagination
    serializer_class = serializers.IncidentDetailSerializer
    read_serializer_class = serializers.IncidentDetailRowSerializer
    list_serializer_class = serializers.IncidentListRowSerializer
    write_serializer_class = serializers.IncidentUpdateSerializer
    report_serializer_class = serializers.IncidentReportSerializer
    create_service = services.incident_report
    update_service = services.incident_update
    action_perms = {
        "create": {"POST": "incidents.add_incident"},
        "partial_update": {"PATCH": CHANGE},
        "transition": {"POST": CHANGE},
        "escalations": {"POST": CHANGE},
        "timeline": {"POST": CHANGE},
        "actions": {"POST": "incidents.add_action"},
        "team": {"POST": "incidents.add_teammember"},
        "team_member": {"DELETE": "incidents.delete_teammember"},
        "communications": {"POST": "incidents.add_communication"},
        "attachments": {"GET": "incidents.view_attachment", "POST": "incidents.add_attachment"},
        "obligation_submit": {"POST": "incidents.add_obligationsubmission"},
    }
    # DELETE exists on one route only, `…/team/{member_id}/` (leaving a team), and PUT on
    # `…/review/` only; every other route answers 405 to them (the router maps neither there:
    # ETagMixin's full `update` is not offered, as no `replace_service` is declared).
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]
    replace_service = None
    update = offered_with("replace_service")(ETagMixin.update)

    def get_queryset(self):
        user = self.request.user
        if self.action == "list":
            seen_in_full = queries.seen_in_full_annotation(user)
            return queries.incident_list_rows(user).annotate(seen_in_full=seen_in_full)
        if self.action in REPORTER_ACTIONS:
            # One incident: whether its reader sees it in full is asked of it once read
            # (`get_object`: queries.can_see, on its prefetched team), not computed in SQL a
            # second time beside the visibility filter.
            qs = queries.incident_list(user)
        else:
            # Edits, steps and the nested lists (timeline, escalations, actions, history)
            # exist only for those who see the incident in full: a reporter gets 404.
            qs = queries.fully_visible_incidents(user).select_related("category")
        if self.action in DETAIL_ACTIONS:
            # In the order the model gives within one incident, without its Meta ordering's
            # join back on the incident.
            qs = qs.prefetch_related(
                Prefetch("team", TeamMember.objects.order_by("added_at", "id"))
            )
        return qs

    def _seen_in_full(self, incident):
        seen = getattr(incident, "seen_in_full", None)
        return queries.can_see(self.request.user, incident) if seen is None else seen

    def get_object(self):
        incident = super().get_object()
        incident.seen_in_full = self._seen_in_full(incident)
        # Read by get_serializer_class: whatever shows this incident from here on (the
        # browsable API's forms too) shows a reporter only what they reported.
        self.reporter_only = not incident.seen_in_full
        return incident

    def read_representation(self, instance):
        """The detail, or for a reader who only reported it, what they reported and its status."""
        if not self._seen_in_full(instance):
            context = self.get_serializer_context()
            return serializers.IncidentReporterSerializer(instance, context=context).data
        return super().read_representation(instance)

    def count_rows(self, queryset):
        """The list's total; see queries.visible_count (parameters that only page or sort the
        list do not narrow it). The nested lists (timeline, actions, history) count themselves."""
        if self.action != "list":
            return queryset.count()
        narrowed = not set(self.request.query_params) <= UNNARROWING_PARAMS
        return queries.visible_count(self.request.user, queryset, narrowed=narrowed)

    def get_serializer_class(self):
        if getattr(self, "reporter_only", False):
            return serializers.IncidentReporterSerializer
        if self.action == "create":
            return self.report_serializer_class
        return super().get_serializer_class()

    def write_serializer(self, *, data, instance=None):
        """A report's input to create, the descriptive fields to PATCH."""
        if instance is None:
            return self.report_serializer_class(data=data, context=self.get_serializer_context())
        return super().write_serializer(data=data, instance=instance)

    def get_serializer_context(self):
        context = super().get_serializer_context()
        user = self.request.user
        context["sees_reporter"] = queries.sees_reporter_identity(user)
        if self.action in ("list", "retrieve", "partial_update", "create", "transition"):
            context["targets"] = queries.targets_by_priority()
        return context

    def evidence_bundle(self, instance):
        return bundle.incident_bundle(instance, self.request.user)

    # Anonymous reporters stay hidden in the history too (the admin's rule: queries.history_mask).
    def history_mask(self, instance):
        return queries.history_mask(self.request.user, instance)

    @extend_schema(
        request=serializers.IncidentReportSerializer,
        responses={201: serializers.IncidentDetailSerializer},
    )
    def create(self, request, *args, **kwargs):
        return super().create(request, *args, **kwargs)

    @extend_schema(
        request=serializers.IncidentUpdateSerializer,
        responses=serializers.IncidentDetailSerializer,
    )
    def partial_update(self, request, *args, **kwargs):
        return super().partial_update(request, *args, **kwargs)

    @extend_schema(
        request=serializers.TransitionSerializer, responses=serializers.IncidentDetailSerializer
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def transition(self, request, pk=None):
        """Move to another status: 409 when the lifecycle does not allow it from here."""
        incident = self.get_object()
        serializer = serializers.TransitionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        incident = services.incident_transition(
            incident=incident, actor=request.user, **serializer.validated_data
        )
        return self.respond(incident)

    def nested(self, request, *, rows, serializer_class, create):
        """One of the incident's lists: GET reads it a page at a time, POST adds a row through
        `create` (a service, given the validated input) and answers 201 with it."""
        if request.method == "POST":
            serializer = serializer_class(data=request.data)
            serializer.is_valid(raise_exception=True)
            created = create(**serializer.validated_data)
            return Response(serializer_class(created).data, status=status.HTTP_201_CREATED)
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(serializer_class(page, many=True).data)

    @nested_list(serializers.EscalationSerializer)
    def escalations(self, request, pk=None):
        incident = self.get_object()
        return self.nested(
            request,
            rows=incident.escalations.select_related("to_group").order_by("-created_at", "-id"),
            serializer_class=serializers.EscalationSerializer,
            create=partial(services.incident_escalate, incident=incident, actor=request.user),
        )

    @nested_list(serializers.TimelineEntrySerializer)
    def timeline(self, request, pk=None):
        incident = self.get_object()
        # An anonymous report's own timeline entry carries no author (see the service).
        return self.nested(
            request,
            rows=incident.timeline.order_by("-created_at", "-id"),
            serializer_class=serializers.TimelineEntrySerializer,
            create=partial(services.timeline_note_add, incident=incident, actor=request.user),
        )

    @nested_list(serializers.ActionSerializer)
    def actions(self, request, pk=None):
        incident = self.get_object()

        def create(**fields):
            fields.pop("status", None)  # a new action is open, whatever was sent
            return services.action_create(incident=incident, actor=request.user, **fields)

        return self.nested(
            request,
            rows=incident.actions.order_by("due_date", "id"),
            serializer_class=serializers.ActionSerializer,
            create=create,
        )

    @nested_list(workspace.TeamMemberRowSerializer)
    def team(self, request, pk=None):
        """The response team: GET its members, POST one more (`user`, `role`; a member
        already on it changes role). Joining is on the timeline and in the history."""
        incident = self.get_object()
        return self.nested(
            request,
            rows=queries.with_readiness(incident.team.select_related("user")).order_by(
                "added_at", "id"
            ),
            serializer_class=workspace.TeamMemberRowSerializer,
            create=partial(services.team_member_add, incident=incident, actor=request.user),
        )

    @extend_schema(request=workspace.TeamLeaveSerializer, responses={204: None}, filters=False)
    @action(
        detail=True,
        methods=["delete"],
        url_path=r"team/(?P<member_id>[0-9]+)",
        filter_backends=[],
    )
    def team_member(self, request, pk=None, member_id=None):
        """Take a member off the team (the API's one DELETE): leaving is recorded on the
        timeline and in the member's history (with the `reason`, if given), not erased."""
        incident = self.get_object()
        member_pk = parse_id(member_id)
        if member_pk is None:
            raise NotFound
        member = get_object_or_404(TeamMember, incident=incident, pk=member_pk)
        serializer = workspace.TeamLeaveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.team_member_remove(
            member=member, actor=request.user, reason=serializer.validated_data["reason"]
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _review_read(self, review, status_code=200):
        review = PostIncidentReview.objects.prefetch_related("participants").get(pk=review.pk)
        return with_etag(workspace.PostIncidentReviewSerializer(review).data, review, status_code)

    @extend_schema(methods=["GET"], responses=workspace.PostIncidentReviewSerializer, filters=False)
    @extend_schema(
        methods=["PUT"],
        request=workspace.PostIncidentReviewSerializer,
        responses={
            200: workspace.PostIncidentReviewSerializer,
            201: workspace.PostIncidentReviewSerializer,
        },
    )
    @action(detail=True, methods=["get", "put"], filter_backends=[])
    def review(self, request, pk=None):
        """The post-incident review: GET it (404 before one is written); PUT writes the fields
        given while it is a draft (201 when it creates it; If-Match as for any edit)."""
        if request.method == "GET":
            review = PostIncidentReview.objects.filter(incident=self.get_object()).first()
            if review is None:
                raise NotFound("This incident has no post-incident review yet.")
            return self._review_read(review)
        with transaction.atomic():  # the If-Match check and the write see the same locked row
            incident = self.get_object_for_update()
            review = PostIncidentReview.objects.filter(incident=incident).first()
            if review is not None:
                check_if_match(request, review)
            serializer = workspace.PostIncidentReviewSerializer(
                review, data=request.data, partial=True
            )
            serializer.is_valid(raise_exception=True)
            saved = services.review_save(
                incident=incident, actor=request.user, **serializer.validated_data
            )
        return self._review_read(saved, 200 if review is not None else 201)

    @extend_schema(request=None, responses=workspace.PostIncidentReviewSerializer, filters=False)
    @action(detail=True, methods=["post"], url_path="review/complete", filter_backends=[])
    def review_complete(self, request, pk=None):
        """Complete the review: 400 while it lacks a summary, root cause or lessons; 409
        before one is written. A plan change it asks for goes to the plan's owner."""
        review = services.review_complete(incident=self.get_object(), actor=request.user)
        return self._review_read(review)

    @extend_schema(methods=["GET"], responses=AttachmentSerializer(many=True), filters=False)
    @extend_schema(
        methods=["POST"],
        request={"multipart/form-data": AttachmentUploadSerializer},
        responses={
            201: AttachmentSerializer,
            413: OpenApiResponse(description="Larger than ATTACHMENT_MAX_BYTES."),
            415: OpenApiResponse(description="Not multipart/form-data."),
        },
    )
    @action(
        detail=True,
        methods=["get", "post"],
        filter_backends=[],
        parser_classes=[MultiPartParser],
    )
    def attachments(self, request, pk=None):
        """Evidence files: GET them (newest first, each with its downloads); POST one
        (multipart `file`): 201 with its SHA-256 and size, 400 for no, an empty or a refused
        file (its kind by extension and content: ATTACHMENT_ALLOWED_TYPES), 413 over
        ATTACHMENT_MAX_BYTES."""
        if request.method == "POST":
            refuse_oversized_upload(request)
        incident = self.get_object()
        if request.method == "GET":
            rows = queries.attachment_rows(incident.attachments.order_by("-uploaded_at", "-id"))
            page = self.paginate_queryset(rows)
            return self.get_paginated_response(AttachmentSerializer(page, many=True).data)
        serializer = AttachmentUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        attachment = services.attachment_add(
            incident=incident, actor=request.user, upload=data.pop("file"), **data
        )
        row = queries.attachment_rows(incident.attachments.all()).get(pk=attachment.pk)
        return Response(AttachmentSerializer(row).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        methods=["GET"], responses=workspace.CommunicationSerializer(many=True), filters=False
    )
    @extend_schema(
        methods=["POST"],
        request=workspace.CommunicationSendSerializer,
        responses={
            200: workspace.CommunicationPreviewSerializer,
            201: workspace.CommunicationSerializer,
        },
    )
    @action(detail=True, methods=["get", "post"], filter_backends=[])
    def communications(self, request, pk=None):
        """Stakeholder updates: GET those sent; POST sends one (201), or with `preview: true`
        renders it and sends nothing (200, with the `digest` a send may confirm)."""
        incident = self.get_object()
        if request.method == "GET":
            rows = incident.communications.select_related("group").order_by("-sent_at", "-id")
            page = self.paginate_queryset(rows)
            data = workspace.CommunicationSerializer(page, many=True).data
            return self.get_paginated_response(data)
        serializer = workspace.CommunicationSendSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        message = dict(serializer.validated_data)
        preview, digest = message.pop("preview"), message.pop("digest")
        if preview:
            rendered = services.communication_render(
                incident=incident, actor=request.user, **message
            )
            body = {
                "subject": rendered.subject,
                "body": rendered.body,
                "recipients": list(rendered.recipients),
                "digest": rendered.digest,
            }
            return Response(body)
        sent = services.communication_send(
            incident=incident, actor=request.user, expected_digest=digest or None, **message
        )
        return Response(
            workspace.CommunicationSerializer(sent).data, status=status.HTTP_201_CREATED
        )


class EscalationViewSet(
    AuditedViewMixin, HistoryMixin, ETagMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Escalations: read one (and its history); their recipient (the person, or a member of
    the group) acknowledges it, as may the incident's team (the service's rule); anyone else
    403, escalations neither theirs nor of an incident they see 404."""

    serializer_class = workspace.EscalationAcknowledgedSerializer
    permission_classes = [permissions.IsAuthenticated]
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self):
        if self.action == "history":
            # The history is the incident's evidence: only for those who see the incident in
            # full (a recipient outside a confidential incident's team acknowledges, no more).
            visible = queries.fully_visible_incidents(self.request.user).values("pk")
            return Escalation.objects.filter(incident__in=visible)
        return queries.escalations_visible_to(self.request.user).select_related("incident")

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["sees_incident"] = queries.can_see
        return context

    @extend_schema(request=None, responses=workspace.EscalationAcknowledgedSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        escalation = services.escalation_acknowledge(
            escalation=self.get_object(), actor=request.user
        )
        return Response(self.get_serializer(escalation).data)


class ActionViewSet(
    AuditedViewMixin,
    HistoryMixin,
    ETagMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Follow-up actions: read and update (owner, due date, status)."""

    serializer_class = serializers.ActionSerializer
    permission_classes = [permissions.IsAuthenticated, HasPerm]
    http_method_names = ["get", "patch", "head", "options"]
    action_perms = {"partial_update": {"PATCH": "incidents.change_action"}}

    def get_queryset(self):
        visible = queries.fully_visible_incidents(self.request.user)
        return Action.objects.filter(incident__in=visible.values("pk"))

    def perform_update(self, serializer):
        services.action_update(
            action=serializer.instance, actor=self.request.user, **serializer.validated_data
        )


class MetricsView(APIView):
    """The incident metrics (product.md §1) over ?since= / ?until=, for the incidents you may see."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        parameters=[serializers.MetricsQuerySerializer],
        responses={200: serializers.MetricsSerializer},
    )
    def get(self, request):
        if not request.user.has_perm("incidents.view_incident"):
            return Response(
                {"detail": "You do not have permission to see incident metrics."}, status=403
            )
        params = serializers.MetricsQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        zone = zoneinfo.ZoneInfo(zone_name_of(request.user))  # token clients have no session
        figures = metrics.incident_metrics(request.user, **params.validated_data, zone=zone)
        return Response(serializers.MetricsSerializer(figures).data)


class CategoryFilter(filters.FilterSet):
    class Meta:
        model = Category
        fields = ("plan",)


class CategoryViewSet(ServiceViewSet):
    """The kinds of incident a report may name (active ones), with the plan governing each:
    readable by anyone signed in, so a reporter or an integration can find the ids."""

    serializer_class = serializers.CategorySerializer
    permission_classes = [permissions.IsAuthenticated]
    http_method_names = ["get", "head", "options"]
    filterset_class = CategoryFilter
    search_fields = ("name",)
    ordering_fields = ("name",)
    ordering = ("name", "id")

    def get_queryset(self):
        return queries.categories()

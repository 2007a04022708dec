"""Thin API views over the incident services and queries."""

from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import AuditedViewMixin, ETagMixin, HistoryMixin
from core.fields import IsoDateTimeFilter
from core.pagination import CountedPagination
from incidents import queries, services
from incidents.models import Action, Category, Incident

from . import serializers as s


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


class HasPerm(permissions.BasePermission):
    """The permission named by the view for the current action (`action_perms`)."""

    def has_permission(self, request, view):
        perm = view.action_perms.get(view.action, {}).get(request.method)
        return perm is None or request.user.has_perm(perm)


CHANGE = "incidents.change_incident"
# The only actions open to someone who reported an incident but may not otherwise see it.
REPORTER_ACTIONS = {"retrieve", "create"}
# Query parameters that page or sort the incident list without narrowing it.
UNNARROWING_PARAMS = {"page", "page_size", "ordering", "format"}


class IncidentViewSet(
    AuditedViewMixin,
    HistoryMixin,
    ETagMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Incidents: report, read, edit descriptive fields, move through the lifecycle, escalate."""

    permission_classes = [permissions.IsAuthenticated, HasPerm]
    http_method_names = ["get", "post", "patch", "head", "options"]
    filterset_class = IncidentFilter
    search_fields = ("reference", "title", "description", "affected_service")
    ordering_fields = ("reported_at", "occurred_at", "priority", "status", "reference")
    ordering = ("-reported_at", "-id")
    pagination_class = CountedPagination
    read_serializer_class = s.IncidentDetailSerializer
    action_perms = {
        "create": {"POST": "incidents.add_incident"},
        "partial_update": {"PATCH": CHANGE},
        "transition": {"POST": CHANGE},
        "escalations": {"POST": CHANGE},
        "timeline": {"POST": CHANGE},
        "actions": {"POST": "incidents.add_action"},
    }

    def get_queryset(self):
        user = self.request.user
        seen_in_full = queries.seen_in_full_annotation(user)
        if self.action == "list":
            return queries.incident_list_rows(user).annotate(seen_in_full=seen_in_full)
        if self.action in REPORTER_ACTIONS:
            qs = queries.incident_list(user).annotate(seen_in_full=seen_in_full)
        else:
            # Edits, steps and the nested lists (timeline, escalations, actions, history)
            # exist only for those who see the incident in full: a reporter gets 404.
            qs = queries.fully_visible_incidents(user).select_related("category")
        if self.action == "retrieve" or self.action == "partial_update":
            qs = qs.prefetch_related("team")
        return qs

    def _seen_in_full(self, incident):
        seen = getattr(incident, "seen_in_full", None)
        return queries.can_see(self.request.user, incident) if seen is None else seen

    def get_object(self):
        incident = super().get_object()
        # Read by get_serializer_class: whatever shows this incident from here on (the
        # browsable API's forms too) shows a reporter only what they reported.
        self.reporter_only = not self._seen_in_full(incident)
        return incident

    def read_representation(self, instance):
        """The detail, or for a reader who only reported it, what they reported and its status."""
        if not self._seen_in_full(instance):
            context = self.get_serializer_context()
            return s.IncidentReporterSerializer(instance, context=context).data
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
            return s.IncidentReporterSerializer
        return {
            "list": s.IncidentListRowSerializer,
            "create": s.IncidentReportSerializer,
            "partial_update": s.IncidentUpdateSerializer,
            "update": s.IncidentUpdateSerializer,
        }.get(self.action, s.IncidentDetailSerializer)

    def get_serializer_context(self):
        context = super().get_serializer_context()
        user = self.request.user
        context["sees_reporter"] = queries.sees_reporter_identity(user)
        if self.action in ("list", "retrieve", "partial_update", "create", "transition"):
            context["targets"] = queries.targets_by_priority()
        return context

    # Anonymous reporters stay hidden in the history too (the admin's rule: queries.history_mask).
    def history_mask(self, instance):
        return queries.history_mask(self.request.user, instance)

    def _detail(self, incident, status_code=200):
        incident = self.get_queryset().prefetch_related("team").get(pk=incident.pk)
        return Response(self.read_representation(incident), status=status_code)

    @extend_schema(request=s.IncidentReportSerializer, responses={201: s.IncidentDetailSerializer})
    def create(self, request, *args, **kwargs):
        serializer = s.IncidentReportSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        incident = services.incident_report(actor=request.user, **serializer.validated_data)
        return self._detail(incident, status.HTTP_201_CREATED)

    @extend_schema(request=s.IncidentUpdateSerializer, responses=s.IncidentDetailSerializer)
    def partial_update(self, request, *args, **kwargs):
        return super().partial_update(request, *args, **kwargs)

    def perform_update(self, serializer):
        services.incident_update(
            incident=serializer.instance, actor=self.request.user, **serializer.validated_data
        )

    @extend_schema(request=s.TransitionSerializer, responses=s.IncidentDetailSerializer)
    @action(detail=True, methods=["post"], filter_backends=[])
    def transition(self, request, pk=None):
        """Move to another status: 409 when the lifecycle does not allow it from here."""
        incident = self.get_object()
        serializer = s.TransitionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        incident = services.incident_transition(
            incident=incident, actor=request.user, **serializer.validated_data
        )
        return self._detail(incident)

    @extend_schema(methods=["GET"], responses=s.EscalationSerializer(many=True), filters=False)
    @extend_schema(
        methods=["POST"], request=s.EscalationSerializer, responses={201: s.EscalationSerializer}
    )
    @action(detail=True, methods=["get", "post"], filter_backends=[])
    def escalations(self, request, pk=None):
        incident = self.get_object()
        if request.method == "POST":
            serializer = s.EscalationSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            escalation = services.incident_escalate(
                incident=incident, actor=request.user, **serializer.validated_data
            )
            return Response(s.EscalationSerializer(escalation).data, status=status.HTTP_201_CREATED)
        page = self.paginate_queryset(
            incident.escalations.select_related("to_group").order_by("-created_at", "-id")
        )
        return self.get_paginated_response(s.EscalationSerializer(page, many=True).data)

    @extend_schema(methods=["GET"], responses=s.TimelineEntrySerializer(many=True), filters=False)
    @extend_schema(
        methods=["POST"],
        request=s.TimelineEntrySerializer,
        responses={201: s.TimelineEntrySerializer},
    )
    @action(detail=True, methods=["get", "post"], filter_backends=[])
    def timeline(self, request, pk=None):
        incident = self.get_object()
        if request.method == "POST":
            serializer = s.TimelineEntrySerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            entry = services.timeline_note_add(
                incident=incident, actor=request.user, text=serializer.validated_data["text"]
            )
            return Response(s.TimelineEntrySerializer(entry).data, status=status.HTTP_201_CREATED)
        # An anonymous report's own timeline entry carries no author (see the service).
        page = self.paginate_queryset(incident.timeline.order_by("-created_at", "-id"))
        data = s.TimelineEntrySerializer(page, many=True).data
        return self.get_paginated_response(data)

    @extend_schema(methods=["GET"], responses=s.ActionSerializer(many=True), filters=False)
    @extend_schema(
        methods=["POST"], request=s.ActionSerializer, responses={201: s.ActionSerializer}
    )
    @action(detail=True, methods=["get", "post"], filter_backends=[])
    def actions(self, request, pk=None):
        incident = self.get_object()
        if request.method == "POST":
            serializer = s.ActionSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            data = dict(serializer.validated_data)
            data.pop("status", None)
            created = services.action_create(incident=incident, actor=request.user, **data)
            return Response(s.ActionSerializer(created).data, status=status.HTTP_201_CREATED)
        page = self.paginate_queryset(incident.actions.order_by("due_date", "id"))
        return self.get_paginated_response(s.ActionSerializer(page, many=True).data)


class ActionViewSet(
    AuditedViewMixin,
    HistoryMixin,
    ETagMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Follow-up actions: read and update (owner, due date, status)."""

    serializer_class = s.ActionSerializer
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

    @extend_schema(parameters=[s.MetricsQuerySerializer], responses=dict)
    def get(self, request):
        if not request.user.has_perm("incidents.view_incident"):
            return Response(
                {"detail": "You do not have permission to see incident metrics."}, status=403
            )
        params = s.MetricsQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        return Response(queries.incident_metrics(request.user, **params.validated_data))


class CategoryFilter(filters.FilterSet):
    class Meta:
        model = Category
        fields = ("plan",)


class CategoryViewSet(
    AuditedViewMixin,
    HistoryMixin,
    ETagMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """The kinds of incident a report may name (active ones), with the plan governing each:
    readable by anyone signed in, so a reporter or an integration can find the ids."""

    serializer_class = s.CategorySerializer
    permission_classes = [permissions.IsAuthenticated]
    http_method_names = ["get", "head", "options"]
    filterset_class = CategoryFilter
    search_fields = ("name",)
    ordering_fields = ("name",)
    ordering = ("name", "id")

    def get_queryset(self):
        return queries.categories()

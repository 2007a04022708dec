"""The API of an incident's notification obligations: read them with their states, submit
one, mark one not applicable, and set the moments their clocks start from (when the
organisation became aware, the classification as major).

Mixed into `IncidentViewSet`: the incident is found as for its other nested lists, among
those its reader sees in full (`queries.fully_visible_incidents`), so a confidential
incident's obligations are a 404 outside its team, as the incident is.
"""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from core.parsing import parse_id
from incidents import queries, services
from incidents.models import Obligation


class SubmissionSerializer(serializers.Serializer):
    """What was sent for an obligation (`POST …/submit/`'s input; in each obligation's
    `submission` when it has been)."""

    submitted_at = serializers.DateTimeField(
        required=False, help_text="When it was sent (default now; not in the future)."
    )
    recipient = serializers.CharField(max_length=200, help_text="To whom it was sent.")
    reference = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        default="",
        help_text="Its reference at the authority.",
    )
    text = serializers.CharField(
        max_length=100_000,
        required=False,
        allow_blank=True,
        default="",
        help_text="What was sent (or name an attachment).",
    )
    attachment = serializers.CharField(
        max_length=500,
        required=False,
        allow_blank=True,
        default="",
        help_text="The attachment sent, by name or link.",
    )
    submitted_by = serializers.IntegerField(
        source="submitted_by_id", read_only=True, help_text="Who recorded it (user id)."
    )


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=services.obligations.REASON_MAX_LENGTH, help_text="Why (recorded)."
    )


class AwareSerializer(ReasonSerializer):
    aware_at = serializers.DateTimeField(
        help_text="When the organisation became aware: not in the future, not before the "
        "incident occurred. The clocks of obligations measured from it move with it."
    )


class ClassifyMajorSerializer(ReasonSerializer):
    classified_at = serializers.DateTimeField(
        required=False, help_text="When it was classified as major (default now)."
    )


class IncidentObligationSerializer(serializers.Serializer):
    """One obligation of an incident and how it stands (docs/incidents.md §Notification
    obligations): `state` is pending, at_risk, breached, met, missed or not_applicable;
    `due_at` is null while its clock has not started (the previous deliverable unsent)."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    authority = serializers.CharField()
    deliverable = serializers.ChoiceField(choices=Obligation.Deliverable.choices)
    anchor = serializers.ChoiceField(choices=Obligation.Anchor.choices)
    state = serializers.ChoiceField(choices=[(s, s) for s in queries.OBLIGATION_STATES])
    due_at = serializers.DateTimeField(allow_null=True)
    submission = serializers.SerializerMethodField()
    not_applicable_reason = serializers.SerializerMethodField()

    def get_submission(self, obligation) -> SubmissionSerializer(allow_null=True):
        submission = self.context["submissions"].get(obligation.pk)
        return None if submission is None else SubmissionSerializer(submission).data

    def get_not_applicable_reason(self, obligation) -> str | None:
        waiver = self.context["waivers"].get(obligation.pk)
        return None if waiver is None else waiver.reason


class ObligationPageSerializer(serializers.Serializer):
    """The first page of an incident's obligations, as `GET …/obligations/` answers."""

    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = IncidentObligationSerializer(many=True)


def obligations_data(incident, rows=None):
    """The incident's obligations (or those of `rows`, a page or one of them) as the API
    shows them: the rows' query and two for the submissions and waivers."""
    submissions, waivers = queries.obligation_records(incident)
    context = {"submissions": submissions, "waivers": waivers}
    if rows is None:
        rows = queries.incident_obligations(incident)
    return IncidentObligationSerializer(rows, many=True, context=context).data


class ObligationActionsMixin:
    """`…/obligations/`, `…/obligations/{obligation_id}/submit/` and `…/not-applicable/`,
    `…/aware/` and `…/classify-major/` of IncidentViewSet: each write calls the service the
    admin's workspace calls. The list is paginated like every list of the API (api.md,
    Conventions); `submit` and `not-applicable` answer with the one obligation as it now
    stands, `aware` and `classify-major` (which move every clock) with the list's first
    page."""

    def _obligations_page(self, incident):
        page = self.paginate_queryset(queries.incident_obligations(incident))
        return self.get_paginated_response(obligations_data(incident, page))

    def _one_obligation(self, incident, obligation):
        rows = queries.incident_obligations(incident).filter(pk=obligation.pk)
        (row,) = obligations_data(incident, rows)
        return Response(row, status=status.HTTP_201_CREATED)

    def _obligation(self, obligation_id):
        obligation_pk = parse_id(obligation_id)
        if obligation_pk is None:
            raise NotFound
        return get_object_or_404(Obligation, pk=obligation_pk)

    @extend_schema(responses=IncidentObligationSerializer(many=True), filters=False)
    @action(detail=True, methods=["get"], filter_backends=[])
    def obligations(self, request, pk=None):
        """The incident's notification obligations with their states and due times, in
        the order of their category (paginated)."""
        return self._obligations_page(self.get_object())

    @extend_schema(
        request=SubmissionSerializer,
        responses={201: IncidentObligationSerializer},
        filters=False,
    )
    @action(
        detail=True,
        methods=["post"],
        url_path=r"obligations/(?P<obligation_id>[0-9]+)/submit",
        filter_backends=[],
    )
    def obligation_submit(self, request, pk=None, obligation_id=None):
        """Record what was sent for one obligation; answers with it as it now stands. 400: no
        recipient, no text or attachment, a time in the future or before the incident
        occurred, an obligation of another category; 409: sent already, not applicable, or
        the deliverable it follows not sent yet."""
        incident = self.get_object()
        obligation = self._obligation(obligation_id)
        serializer = SubmissionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.obligation_submit(
            incident=incident,
            obligation=obligation,
            actor=request.user,
            **serializer.validated_data,
        )
        return self._one_obligation(incident, obligation)

    @extend_schema(
        request=ReasonSerializer,
        responses={201: IncidentObligationSerializer},
        filters=False,
    )
    @action(
        detail=True,
        methods=["post"],
        url_path=r"obligations/(?P<obligation_id>[0-9]+)/not-applicable",
        filter_backends=[],
    )
    def obligation_not_applicable(self, request, pk=None, obligation_id=None):
        """Mark one obligation not applicable to this incident, with the reason; answers
        with it as it now stands. 400: no reason, an obligation of another category; 409: submitted
        already (it applied), or marked not applicable already."""
        incident = self.get_object()
        obligation = self._obligation(obligation_id)
        serializer = ReasonSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.obligation_not_applicable(
            incident=incident,
            obligation=obligation,
            actor=request.user,
            reason=serializer.validated_data["reason"],
        )
        return self._one_obligation(incident, obligation)

    @extend_schema(
        request=AwareSerializer,
        responses=ObligationPageSerializer,
        filters=False,
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def aware(self, request, pk=None):
        """Record when the organisation became aware of the incident (by default, when it
        was reported), with the reason; answers with the obligations as they now stand.
        400: no reason, a time in the future or before the incident occurred."""
        incident = self.get_object()
        serializer = AwareSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        incident = services.incident_set_aware(
            incident=incident, actor=request.user, **serializer.validated_data
        )
        return self._obligations_page(incident)

    @extend_schema(
        request=ClassifyMajorSerializer,
        responses=ObligationPageSerializer,
        filters=False,
    )
    @action(detail=True, methods=["post"], url_path="classify-major", filter_backends=[])
    def classify_major(self, request, pk=None):
        """Record that the incident was classified as major (DORA's clock starts there),
        once, with the reason; answers with the obligations as they now stand (the list's
        first page). 400: no
        reason, a bad time; 409: classified already."""
        incident = self.get_object()
        serializer = ClassifyMajorSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        incident = services.incident_classify_major(
            incident=incident, actor=request.user, **serializer.validated_data
        )
        return self._obligations_page(incident)

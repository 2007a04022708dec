"""Incident API shapes: a fast read-only list row, the detail, and the write inputs."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from rest_framework import serializers

from incidents import queries
from incidents.models import (
    Action,
    Category,
    Escalation,
    EscalationLevel,
    Impact,
    Incident,
    Status,
    TeamMember,
    TimelineEntry,
    Urgency,
)
from incidents.services import DESCRIPTIVE_FIELDS, REASON_MAX_LENGTH

User = get_user_model()

# A list row of an incident its reader only reported: who runs the response and how its
# targets stand are the response's, not what they reported (see IncidentReporterSerializer).
REDUCED_ROW = {"incident_manager": None, "target_state": None}


class IncidentListSerializer(serializers.ModelSerializer):
    """One list row. `reporter` is null for anonymous reports unless the reader is compliance;
    `category` (and `category_name`) null for a report not yet classified (awaiting triage)."""

    category = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    category_name = serializers.CharField(source="category.name", read_only=True, allow_null=True)
    reporter = serializers.SerializerMethodField()
    target_state = serializers.SerializerMethodField()

    class Meta:
        model = Incident
        # A row's columns as stored (queries.LIST_COLUMNS), then what is shown of its relations.
        fields = (
            "id",
            *queries.LIST_COLUMNS,
            "category",
            "category_name",
            "incident_manager",
            "reporter",
            "target_state",
        )
        read_only_fields = fields

    def get_reporter(self, incident) -> int | None:
        return queries.reporter_shown(
            incident, sees_reporter=self.context.get("sees_reporter", False)
        )

    def to_representation(self, incident):
        data = super().to_representation(incident)
        return data if seen_in_full(incident) else {**data, **REDUCED_ROW}

    def get_target_state(self, incident) -> str | None:
        targets = self.context.get("targets")
        if targets is None:
            return None
        return queries.target_states(incident, targets).worst


_datetime = serializers.DateTimeField().to_representation  # None stays None


def seen_in_full(incident):
    """The `seen_in_full` annotation of the API's querysets (rows built elsewhere: in full)."""
    return getattr(incident, "seen_in_full", True)


class IncidentListRowSerializer(IncidentListSerializer):
    """The list's rows, built by hand: a page is 100 of them, and DRF's field-by-field walk
    was a third of the request. Same declared fields (the schema) and the same output as
    IncidentListSerializer, which `tests/incidents/test_api.py` checks row for row."""

    def to_representation(self, incident):
        sees_reporter = self.context.get("sees_reporter", False)
        targets = self.context.get("targets")
        row = {
            "id": incident.id,
            **{name: getattr(incident, name) for name in queries.LIST_COLUMNS},
        }
        row["occurred_at"] = _datetime(incident.occurred_at)
        row["reported_at"] = _datetime(incident.reported_at)
        row["category"] = incident.category_id
        row["category_name"] = incident.category.name if incident.category_id else None
        row["incident_manager"] = incident.incident_manager_id
        row["reporter"] = queries.reporter_shown(incident, sees_reporter=sees_reporter)
        row["target_state"] = (
            None if targets is None else queries.target_states(incident, targets).worst
        )
        return row if seen_in_full(incident) else {**row, **REDUCED_ROW}


class TargetStatesSerializer(serializers.Serializer):
    acknowledge = serializers.CharField(allow_null=True)
    contain = serializers.CharField(allow_null=True)
    recover = serializers.CharField(allow_null=True)
    update = serializers.CharField(allow_null=True)
    next_update_due = serializers.DateTimeField(allow_null=True)


class TeamMemberSerializer(serializers.ModelSerializer):
    class Meta:
        model = TeamMember
        fields = ("user", "role", "added_at")


class IncidentReporterSerializer(IncidentListSerializer):
    """What someone reads who reported an incident but may not otherwise see it (a
    confidential one outside its team, or any report of a Staff member): what they
    reported and its status; not its team, manager, targets, phases or anything of the
    response (timeline, escalations, actions, review, history answer 404 to them)."""

    class Meta(IncidentListSerializer.Meta):
        fields = (
            *(name for name in IncidentListSerializer.Meta.fields if name not in REDUCED_ROW),
            "observed_impact",
            "actions_taken",
        )
        read_only_fields = fields

    def to_representation(self, incident):
        return serializers.ModelSerializer.to_representation(self, incident)


# The detail's fields beyond a list row, each shown as stored but for the times.
DETAIL_COLUMNS = ("observed_impact", "actions_taken", "reopened_count")
DETAIL_TIMES = (
    "acknowledged_at",
    "aware_at",
    "classified_major_at",
    "investigating_at",
    "contained_at",
    "eradicated_at",
    "recovered_at",
    "closed_at",
    "cancelled_at",
    "last_update_at",
)


class IncidentDetailSerializer(IncidentListSerializer):
    targets = serializers.SerializerMethodField()
    team = TeamMemberSerializer(many=True, read_only=True)
    plan_version = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    allowed_transitions = serializers.SerializerMethodField()

    class Meta(IncidentListSerializer.Meta):
        fields = IncidentListSerializer.Meta.fields + (
            "observed_impact",
            "actions_taken",
            "plan_version",
            *DETAIL_TIMES,
            "reopened_count",
            "team",
            "targets",
            "allowed_transitions",
        )
        read_only_fields = fields

    def get_targets(self, incident) -> TargetStatesSerializer:
        targets = self.context.get("targets") or queries.targets_by_priority()
        return TargetStatesSerializer(queries.target_states(incident, targets).as_dict()).data

    def get_allowed_transitions(self, incident) -> list[str]:
        return queries.allowed_steps(self.context["request"].user, incident)


class IncidentDetailRowSerializer(IncidentDetailSerializer):
    """The detail built by hand, as IncidentListRowSerializer builds a row: DRF's walk of its
    thirty-odd fields was a sixth of a detail read. Same declared fields (the schema) and
    the same output as IncidentDetailSerializer, which `tests/incidents/test_api.py` checks
    incident for incident."""

    def to_representation(self, incident):
        row = IncidentListRowSerializer(context=self.context).to_representation(incident)
        row.update({name: getattr(incident, name) for name in DETAIL_COLUMNS})
        row.update({name: _datetime(getattr(incident, name)) for name in DETAIL_TIMES})
        row["plan_version"] = incident.plan_version_id
        row["team"] = [
            {"user": m.user_id, "role": m.role, "added_at": _datetime(m.added_at)}
            for m in incident.team.all()
        ]
        targets = self.context.get("targets") or queries.targets_by_priority()
        states = queries.target_states(incident, targets).as_dict()
        states["next_update_due"] = _datetime(states["next_update_due"])
        row["targets"] = states
        row["allowed_transitions"] = self.get_allowed_transitions(incident)
        return {name: row[name] for name in self.Meta.fields}


class IncidentReportSerializer(serializers.Serializer):
    """A new report (staff, integrations, coordinators): title, description and when it
    occurred are enough; without `category` it is unclassified and waits for triage."""

    title = serializers.CharField(max_length=200)
    description = serializers.CharField()
    occurred_at = serializers.DateTimeField()
    category = serializers.PrimaryKeyRelatedField(
        queryset=Category.objects.filter(active=True),
        required=False,
        allow_null=True,
        default=None,
        help_text="The kind of incident (GET /api/v1/categories/); leave it to triage if unsure.",
    )
    impact = serializers.ChoiceField(choices=Impact.choices, default=Impact.MODERATE)
    urgency = serializers.ChoiceField(choices=Urgency.choices, default=Urgency.MEDIUM)
    affected_service = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default=""
    )
    observed_impact = serializers.CharField(required=False, allow_blank=True, default="")
    actions_taken = serializers.CharField(required=False, allow_blank=True, default="")
    anonymous = serializers.BooleanField(default=False)
    confidential = serializers.BooleanField(default=False)


class IncidentUpdateSerializer(serializers.ModelSerializer):
    """Descriptive fields only: status moves by `transition/`, priority follows impact × urgency."""

    category = serializers.PrimaryKeyRelatedField(
        queryset=Category.objects.all(), required=False, allow_null=True
    )
    incident_manager = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), required=False, allow_null=True
    )

    class Meta:
        model = Incident
        fields = DESCRIPTIVE_FIELDS
        extra_kwargs = {name: {"required": False} for name in fields}


class TransitionSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Status.choices)
    reason = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=REASON_MAX_LENGTH
    )


class EscalationSerializer(serializers.ModelSerializer):
    to_user = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), required=False, allow_null=True
    )
    to_group = serializers.SlugRelatedField(
        slug_field="name", queryset=Group.objects.all(), required=False, allow_null=True
    )
    level = serializers.ChoiceField(choices=EscalationLevel.choices)

    class Meta:
        model = Escalation
        fields = (
            "id",
            "level",
            "to_user",
            "to_group",
            "reason",
            "escalated_by",
            "created_at",
            "acknowledged_at",
            "automatic",
        )
        read_only_fields = ("id", "escalated_by", "created_at", "acknowledged_at", "automatic")

    def validate(self, attrs):
        if (attrs.get("to_user") is None) == (attrs.get("to_group") is None):
            raise serializers.ValidationError(
                {"to_user": ["Give exactly one of to_user or to_group."]}
            )
        return attrs


class TimelineEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = TimelineEntry
        fields = ("id", "kind", "text", "author", "created_at")
        read_only_fields = ("id", "kind", "author", "created_at")


class ActionSerializer(serializers.ModelSerializer):
    owner = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), required=False, allow_null=True
    )

    class Meta:
        model = Action
        fields = (
            "id",
            "incident",
            "kind",
            "description",
            "owner",
            "due_date",
            "status",
            "completed_at",
            "created_at",
        )
        read_only_fields = ("id", "incident", "completed_at", "created_at")


class MetricsQuerySerializer(serializers.Serializer):
    since = serializers.DateTimeField(
        required=False, help_text="Count incidents reported at or after this time (ISO 8601)."
    )
    until = serializers.DateTimeField(
        required=False, help_text="Count incidents reported before this time (ISO 8601)."
    )

    def validate(self, data):
        if data.get("since") and data.get("until") and data["until"] <= data["since"]:
            raise serializers.ValidationError({"until": "until must be later than since."})
        return data


class TargetsMetSerializer(serializers.Serializer):
    """Per phase, the share (per cent) of incidents that reached it within their priority's
    target, of those that reached it; null when none did."""

    acknowledge = serializers.FloatField(allow_null=True)
    contain = serializers.FloatField(allow_null=True)
    recover = serializers.FloatField(allow_null=True)


class MetricsRowSerializer(serializers.Serializer):
    """One group of a breakdown: its key (month "YYYY-MM", category id, priority, plan
    version id; null for "Unclassified" / "No plan in force"), its label and its measures.
    Mean times are in seconds (null: no incident reached the phase) and in words."""

    key = serializers.JSONField(allow_null=True)
    label = serializers.CharField()
    incidents = serializers.IntegerField()
    open = serializers.IntegerField()
    mean_seconds_to_acknowledge = serializers.IntegerField(allow_null=True)
    mean_seconds_to_contain = serializers.IntegerField(allow_null=True)
    mean_seconds_to_recover = serializers.IntegerField(allow_null=True)
    mean_time_to_acknowledge = serializers.CharField(allow_null=True)
    mean_time_to_contain = serializers.CharField(allow_null=True)
    mean_time_to_recover = serializers.CharField(allow_null=True)
    targets_met_percent = TargetsMetSerializer()


class PlanVersionRowSerializer(MetricsRowSerializer):
    plan = serializers.CharField(allow_null=True, help_text="The plan's title.")
    version = serializers.IntegerField(allow_null=True, help_text="The version's number.")


class BreakdownsSerializer(serializers.Serializer):
    by_month = MetricsRowSerializer(many=True, help_text="By month reported, in your time zone.")
    by_category = MetricsRowSerializer(many=True)
    by_priority = MetricsRowSerializer(many=True)
    by_plan_version = PlanVersionRowSerializer(
        many=True, help_text="By the version of the category's plan in force when reported."
    )


class MonthCountSerializer(serializers.Serializer):
    month = serializers.CharField(help_text="The month's first day, YYYY-MM-01.")
    count = serializers.IntegerField()


class CategoryCountSerializer(serializers.Serializer):
    category = serializers.CharField(allow_null=True)
    count = serializers.IntegerField()


class ObligationsMetSerializer(serializers.Serializer):
    due = serializers.IntegerField(help_text="Obligations that fell due: met + missed + breached.")
    met = serializers.IntegerField(help_text="Sent by their deadline.")
    missed = serializers.IntegerField(help_text="Sent after their deadline.")
    breached = serializers.IntegerField(help_text="Past their deadline, not sent.")
    met_percent = serializers.FloatField(allow_null=True)
    incidents_breached = serializers.IntegerField(
        help_text="Incidents with an obligation past its deadline and not sent, now."
    )
    incidents_at_risk = serializers.IntegerField(
        help_text="Incidents with an obligation close to its deadline and not sent, now."
    )


class ReadinessMetricsSerializer(serializers.Serializer):
    recorded = serializers.IntegerField(help_text="Incidents with any readiness recorded.")
    fully_ready = serializers.IntegerField(
        help_text="Of those, handled by a team fully current on its plan: everyone who took a "
        "part had acknowledged the plan version in force and was current on its training."
    )
    fully_ready_percent = serializers.FloatField(allow_null=True)


class MetricsSerializer(serializers.Serializer):
    """The incident metrics (docs/incidents.md §Metrics) over the incidents you may see."""

    since = serializers.DateTimeField(allow_null=True)
    until = serializers.DateTimeField(allow_null=True)
    time_zone = serializers.CharField(help_text="The zone months are counted in: yours.")
    incidents = serializers.IntegerField()
    open = serializers.IntegerField()
    unclassified = serializers.IntegerField()
    mean_minutes_to_acknowledge = serializers.FloatField(
        allow_null=True, help_text="Kept for older clients; prefer mean_seconds_to_acknowledge."
    )
    mean_minutes_to_contain = serializers.FloatField(allow_null=True)
    mean_minutes_to_recover = serializers.FloatField(allow_null=True)
    mean_seconds_to_acknowledge = serializers.IntegerField(allow_null=True)
    mean_seconds_to_contain = serializers.IntegerField(allow_null=True)
    mean_seconds_to_recover = serializers.IntegerField(allow_null=True)
    mean_time_to_acknowledge = serializers.CharField(allow_null=True)
    mean_time_to_contain = serializers.CharField(allow_null=True)
    mean_time_to_recover = serializers.CharField(allow_null=True)
    targets_met_percent = TargetsMetSerializer()
    by_month = MonthCountSerializer(many=True)
    by_category = CategoryCountSerializer(many=True)
    by_priority = serializers.DictField(
        child=serializers.IntegerField(), help_text="Incidents per priority, P1 to P4."
    )
    late_reports = serializers.IntegerField()
    escalations = serializers.IntegerField()
    automatic_escalations = serializers.IntegerField()
    reopened = serializers.IntegerField()
    open_actions_past_due = serializers.IntegerField()
    obligations_met = ObligationsMetSerializer()
    readiness = ReadinessMetricsSerializer()
    breakdowns = BreakdownsSerializer()


class CategorySerializer(serializers.ModelSerializer):
    """A kind of incident and the plan that governs it (null: none)."""

    plan = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)

    class Meta:
        model = Category
        fields = ("id", "name", "plan")
        read_only_fields = fields

"""API shapes of the coordinator's workspace: the team, the review, communications, acknowledging."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from rest_framework import serializers

from incidents import queries
from incidents.models import (
    Communication,
    Escalation,
    MessageTemplate,
    PostIncidentReview,
    Readiness,
    TeamMember,
)
from incidents.services import REVIEW_FIELDS

User = get_user_model()


class ReadinessSerializer(serializers.ModelSerializer):
    """A person's readiness as they took their part (models.Readiness)."""

    words = serializers.SerializerMethodField()

    class Meta:
        model = Readiness
        fields = ("state", "acknowledged_at", "plan_version", "courses_missing", "words")
        read_only_fields = fields

    def get_words(self, row) -> str:
        return queries.readiness_words(row.state, row.acknowledged_at, row.courses_missing)


class ReadinessRowSerializer(ReadinessSerializer):
    user = serializers.PrimaryKeyRelatedField(read_only=True)
    full_name = serializers.CharField(source="user.get_full_name", read_only=True)

    class Meta(ReadinessSerializer.Meta):
        fields = (
            "id",
            "user",
            "full_name",
            "part",
            "role",
            "recorded_at",
            "plan_version",
            "acknowledged_at",
            "courses_required",
            "courses_missing",
            "state",
            "words",
        )
        read_only_fields = fields


class TeamMemberRowSerializer(serializers.ModelSerializer):
    """One member of the response team; `member_id` (`id`) names them in `DELETE …/team/{id}/`."""

    user = serializers.PrimaryKeyRelatedField(queryset=User.objects.filter(is_active=True))
    username = serializers.CharField(source="user.username", read_only=True)
    full_name = serializers.CharField(source="user.get_full_name", read_only=True)
    role = serializers.ChoiceField(
        choices=TeamMember.Role.choices, default=TeamMember.Role.RESPONDER
    )

    readiness = serializers.SerializerMethodField(
        help_text="Whether they were ready when they joined (their newest readiness record)."
    )

    class Meta:
        model = TeamMember
        fields = ("id", "user", "username", "full_name", "role", "added_at", "readiness")
        read_only_fields = ("id", "username", "full_name", "added_at")
        # The one-member-per-person rule is the service's (it changes the role instead).
        validators = []

    def get_readiness(self, member) -> ReadinessSerializer:
        if hasattr(member, "readiness_state"):  # annotated by queries.with_readiness
            if member.readiness_state is None:
                return None
            return {
                "state": member.readiness_state,
                "acknowledged_at": member.readiness_acknowledged_at,
                "plan_version": member.readiness_plan_version,
                "courses_missing": member.readiness_missing or [],
                "words": queries.readiness_words(
                    member.readiness_state,
                    member.readiness_acknowledged_at,
                    member.readiness_missing,
                ),
            }
        row = (
            Readiness.objects.filter(incident_id=member.incident_id, user_id=member.user_id)
            .filter(part=Readiness.Part.TEAM_MEMBER)
            .order_by("-recorded_at", "-id")
            .first()
        )
        return None if row is None else ReadinessSerializer(row).data


class TeamLeaveSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class PostIncidentReviewSerializer(serializers.ModelSerializer):
    """The post-incident review; PUT writes the fields it is given while it is a draft."""

    participants = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), many=True, required=False
    )
    team_readiness = serializers.SerializerMethodField(
        help_text="Whether each responder had signed the plan in force and was current on "
        "its training when they took their part."
    )

    class Meta:
        model = PostIncidentReview
        fields = (
            "id",
            "incident",
            *REVIEW_FIELDS,
            "participants",
            "status",
            "completed_at",
            "completed_by",
            "plan_change_request",
            "team_readiness",
        )
        read_only_fields = (
            "id",
            "incident",
            "status",
            "completed_at",
            "completed_by",
            "plan_change_request",
        )
        extra_kwargs = {name: {"required": False} for name in REVIEW_FIELDS}

    def get_team_readiness(self, review) -> ReadinessRowSerializer(many=True):
        """Each person's readiness as they took their part in the incident, newest first."""
        rows = Readiness.objects.filter(incident_id=review.incident_id).select_related("user")
        return ReadinessRowSerializer(rows.order_by("-recorded_at", "-id"), many=True).data


class CommunicationSerializer(serializers.ModelSerializer):
    """A communication as sent: what it said, to whom, by whom, when."""

    group = serializers.SlugRelatedField(slug_field="name", read_only=True, allow_null=True)

    class Meta:
        model = Communication
        fields = (
            "id",
            "template",
            "subject",
            "body",
            "audience",
            "group",
            "recipient_count",
            "sent_by",
            "sent_at",
        )
        read_only_fields = fields


class CommunicationSendSerializer(serializers.Serializer):
    """Send an update: from a template (its subject and body, placeholders filled in) or as
    written, to the addresses in `audience` and the members of `group`. `preview: true`
    renders it and sends nothing; sending with the preview's `digest` refuses (412) a message
    that changed since."""

    template = serializers.PrimaryKeyRelatedField(
        queryset=MessageTemplate.objects.filter(active=True), required=False, allow_null=True
    )
    subject = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    body = serializers.CharField(required=False, allow_blank=True, default="")
    audience = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="Email addresses, comma-separated."
    )
    group = serializers.SlugRelatedField(
        slug_field="name", queryset=Group.objects.all(), required=False, allow_null=True
    )
    preview = serializers.BooleanField(default=False)
    digest = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=64,
        help_text="The `digest` of the preview this send confirms.",
    )


class CommunicationPreviewSerializer(serializers.Serializer):
    subject = serializers.CharField()
    body = serializers.CharField()
    recipients = serializers.ListField(child=serializers.CharField())
    digest = serializers.CharField()


class EscalationAcknowledgedSerializer(serializers.ModelSerializer):
    """An escalation as its recipient sees it. The reason is the incident's words: a recipient
    who may not see the incident in full (outside a confidential incident's team) reads it as
    the escalation email gives it, by reference only."""

    def to_representation(self, instance):
        data = super().to_representation(instance)
        sees = self.context.get("sees_incident")
        request = self.context.get("request")
        if sees is not None and request is not None and not sees(request.user, instance.incident):
            data["reason"] = f"See {instance.incident.reference}."
        return data

    class Meta:
        model = Escalation
        fields = (
            "id",
            "incident",
            "level",
            "to_user",
            "to_group",
            "reason",
            "created_at",
            "acknowledged_at",
            "acknowledged_by",
        )
        read_only_fields = fields

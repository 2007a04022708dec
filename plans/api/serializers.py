"""API shapes of plans, versions, sections and acknowledgements (input validation, output)."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from rest_framework import serializers

from core.api import SafeLinkField

from .. import models, queries
from ..models import Acknowledgement, Plan, PlanChangeRequest, PlanVersion, Review, Section
from ..services import PLAN_FIELDS

User = get_user_model()


class VersionBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = PlanVersion
        fields = ("id", "number", "status", "content_hash", "published_at", "next_review_due")
        read_only_fields = fields


class PlanSerializer(serializers.ModelSerializer):
    audience = serializers.SlugRelatedField(many=True, read_only=True, slug_field="name")
    current_version = serializers.SerializerMethodField()
    latest_version = serializers.SerializerMethodField()
    review_due = serializers.BooleanField(read_only=True)

    class Meta:
        model = Plan
        fields = (
            "id",
            *PLAN_FIELDS,
            "current_version",
            "latest_version",
            "review_due",
            "created_at",
        )
        read_only_fields = fields

    def get_current_version(self, plan) -> VersionBriefSerializer(allow_null=True):
        published = [v for v in _newest_first(plan) if v.status == PlanVersion.Status.PUBLISHED]
        return VersionBriefSerializer(published[0]).data if published else None

    def get_latest_version(self, plan) -> VersionBriefSerializer(allow_null=True):
        """The newest version (a draft or one in review while a new text is prepared)."""
        latest = _newest_first(plan)
        request = self.context.get("request")
        if request is not None and not queries.can_see_unpublished(request.user):
            latest = [v for v in latest if v.status in queries.VISIBLE_TO_EVERYONE]
        return VersionBriefSerializer(latest[0]).data if latest else None


def _newest_first(plan):
    """The plan's versions, newest first (prefetched by queries.plans_list)."""
    versions = getattr(plan, "versions_newest_first", None)
    return list(plan.versions.order_by("-number")) if versions is None else versions


class PlanWriteSerializer(serializers.ModelSerializer):
    audience = serializers.SlugRelatedField(
        many=True, slug_field="name", queryset=Group.objects.all(), required=False
    )
    owner = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), required=False
    )
    # The limits and their words are the model's (validators and constraints of Plan).
    review_interval_months = serializers.IntegerField(
        required=False,
        min_value=models.REVIEW_INTERVAL_MONTHS[0],
        max_value=models.REVIEW_INTERVAL_MONTHS[1],
        error_messages={
            "min_value": models.REVIEW_INTERVAL_TOO_SHORT,
            "max_value": models.REVIEW_INTERVAL_TOO_LONG,
        },
    )
    acknowledgement_days = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=models.MAX_ACKNOWLEDGEMENT_DAYS,
        error_messages={"max_value": models.TOO_MANY_ACKNOWLEDGEMENT_DAYS},
    )

    class Meta:
        model = Plan
        fields = PLAN_FIELDS


class SectionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Section
        fields = ("key", "order", "heading", "body", "guidance")
        read_only_fields = ("key", "order", "guidance")


class SectionWriteSerializer(serializers.Serializer):
    heading = serializers.CharField(max_length=200, required=False)
    body = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError("Send `heading`, `body` or both.")
        return attrs


class ReviewSerializer(serializers.ModelSerializer):
    class Meta:
        model = Review
        fields = ("id", "decision", "reviewer", "comment", "created_at")
        read_only_fields = fields


class ChangeRequestSerializer(serializers.ModelSerializer):
    source_url = SafeLinkField(read_only=True)

    class Meta:
        model = PlanChangeRequest
        fields = (
            "id",
            "summary",
            "details",
            "source",
            "source_url",
            "requested_by",
            "status",
            "addressed_in",
            "created_at",
        )
        read_only_fields = fields


class ChangeRequestListSerializer(ChangeRequestSerializer):
    class Meta(ChangeRequestSerializer.Meta):
        fields = ("plan",) + ChangeRequestSerializer.Meta.fields + ("addressed_at",)
        read_only_fields = fields


class VersionListSerializer(serializers.ModelSerializer):
    class Meta:
        model = PlanVersion
        fields = (
            "id",
            "plan",
            "number",
            "status",
            "author",
            "change_summary",
            "content_hash",
            "submitted_at",
            "approved_at",
            "published_at",
            "effective_date",
            "next_review_due",
        )
        read_only_fields = fields


class VersionSerializer(VersionListSerializer):
    sections = SectionSerializer(many=True, read_only=True)
    reviews = ReviewSerializer(many=True, read_only=True)
    open_change_requests = serializers.SerializerMethodField()
    statement = serializers.CharField(read_only=True)
    acknowledge_by = serializers.DateTimeField(read_only=True, allow_null=True)
    allowed_steps = serializers.SerializerMethodField()

    class Meta(VersionListSerializer.Meta):
        fields = VersionListSerializer.Meta.fields + (
            "submitted_by",
            "approved_by",
            "published_by",
            "statement",
            "acknowledge_by",
            "sections",
            "reviews",
            "open_change_requests",
            "allowed_steps",
        )
        read_only_fields = fields

    def get_open_change_requests(self, version) -> ChangeRequestSerializer(many=True):
        """Open requests to change the plan, listed on the version being prepared."""
        if version.status not in queries.WORK_IN_PROGRESS:
            return []
        requests = getattr(version, "open_requests", None)
        if requests is None:
            requests = queries.open_change_requests(version.plan)
        return ChangeRequestSerializer(requests, many=True).data

    def get_allowed_steps(self, version) -> list[str]:
        """The workflow steps the requesting user may take now (`submit`, `approve`,
        `request_changes`, `publish`: each is a POST to the action of that name)."""
        request = self.context.get("request")
        if request is None:
            return []
        return [step.name for step in queries.allowed_steps(request.user, version)]


class VersionWriteSerializer(serializers.Serializer):
    change_summary = serializers.CharField(allow_blank=True, trim_whitespace=False)

    def validate(self, attrs):
        # A PATCH is partial, but this is its one field.
        if "change_summary" not in attrs:
            raise serializers.ValidationError({"change_summary": ["This field is required."]})
        return attrs


def signing_password():
    """The signer's password, re-entered to sign (21 CFR 11.200). Empty or absent only for
    an account that re-authenticated at the identity provider in the last few minutes."""
    return serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=4096,
        trim_whitespace=False,
        write_only=True,
        style={"input_type": "password"},
        help_text="Your password, re-entered to sign (403 signature_refused when wrong; "
        "counted by the sign-in lockout).",
    )


class CommentSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)
    password = signing_password()


class AcknowledgeSerializer(serializers.Serializer):
    full_name = serializers.CharField(max_length=300)
    content_hash = serializers.CharField(max_length=64, min_length=64)
    password = signing_password()


class SignatureSerializer(serializers.ModelSerializer):
    class Meta:
        model = models.Signature
        fields = ("id", "printed_name", "signed_at", "meaning", "content_hash", "method")
        read_only_fields = fields


class AcknowledgementSerializer(serializers.ModelSerializer):
    plan = serializers.IntegerField(source="version.plan_id", read_only=True)
    version_number = serializers.IntegerField(source="version.number", read_only=True)

    class Meta:
        model = Acknowledgement
        fields = (
            "id",
            "user",
            "version",
            "plan",
            "version_number",
            "acknowledged_at",
            "full_name",
            "statement",
            "content_hash",
        )
        read_only_fields = fields


class PendingSerializer(serializers.ModelSerializer):
    plan_code = serializers.CharField(source="plan.code", read_only=True)
    plan_title = serializers.CharField(source="plan.title", read_only=True)
    acknowledge_by = serializers.DateTimeField(read_only=True, allow_null=True)
    statement = serializers.CharField(read_only=True)

    class Meta:
        model = PlanVersion
        fields = (
            "id",
            "plan",
            "plan_code",
            "plan_title",
            "number",
            "status",
            "content_hash",
            "published_at",
            "acknowledge_by",
            "statement",
        )
        read_only_fields = fields


class OutstandingUserSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    full_name = serializers.CharField()


class ComplianceSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    audience = serializers.IntegerField()
    acknowledged = serializers.IntegerField()
    outstanding = serializers.IntegerField()
    overdue = serializers.IntegerField()
    overdue_since = serializers.DateTimeField(allow_null=True)
    outstanding_users = OutstandingUserSerializer(many=True)

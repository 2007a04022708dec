"""API shapes of plans, versions, sections and acknowledgements (input validation, output)."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from rest_framework import serializers

from core.api import SafeLinkField

from ..models import Acknowledgement, Plan, PlanChangeRequest, PlanVersion, Review, Section
from ..queries import VISIBLE_TO_EVERYONE

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
            "code",
            "title",
            "purpose",
            "scope",
            "objectives",
            "owner",
            "audience",
            "review_interval_months",
            "acknowledgement_days",
            "current_version",
            "latest_version",
            "review_due",
            "created_at",
        )
        read_only_fields = fields

    def get_current_version(self, plan) -> VersionBriefSerializer(allow_null=True):
        versions = getattr(plan, "versions_newest_first", None)
        if versions is None:
            versions = list(plan.versions.order_by("-number"))
        published = [v for v in versions if v.status == PlanVersion.Status.PUBLISHED]
        return VersionBriefSerializer(published[0]).data if published else None

    def get_latest_version(self, plan) -> VersionBriefSerializer(allow_null=True):
        """The newest version (a draft or one in review while a new text is prepared)."""
        latest = getattr(plan, "versions_newest_first", None)
        if latest is None:
            latest = list(plan.versions.order_by("-number"))
        request = self.context.get("request")
        if request is not None and not request.user.has_perm("plans.view_unpublished_planversion"):
            latest = [v for v in latest if v.status in VISIBLE_TO_EVERYONE]
        return VersionBriefSerializer(latest[0]).data if latest else None


class PlanWriteSerializer(serializers.ModelSerializer):
    audience = serializers.SlugRelatedField(
        many=True, slug_field="name", queryset=Group.objects.all(), required=False
    )
    owner = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), required=False
    )
    review_interval_months = serializers.IntegerField(min_value=1, max_value=120, required=False)
    acknowledgement_days = serializers.IntegerField(min_value=0, max_value=365, required=False)

    class Meta:
        model = Plan
        fields = (
            "code",
            "title",
            "purpose",
            "scope",
            "objectives",
            "owner",
            "audience",
            "review_interval_months",
            "acknowledgement_days",
        )


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
        )
        read_only_fields = fields

    def get_open_change_requests(self, version) -> ChangeRequestSerializer(many=True):
        """Open requests to change the plan, listed on the version being prepared."""
        if version.status not in (
            PlanVersion.Status.DRAFT,
            PlanVersion.Status.IN_REVIEW,
            PlanVersion.Status.APPROVED,
        ):
            return []
        requests = getattr(version, "open_requests", None)
        if requests is None:
            from ..queries import open_change_requests

            requests = open_change_requests(version.plan)
        return ChangeRequestSerializer(requests, many=True).data


class VersionWriteSerializer(serializers.Serializer):
    change_summary = serializers.CharField(allow_blank=True, trim_whitespace=False)


class CommentSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)


class AcknowledgeSerializer(serializers.Serializer):
    full_name = serializers.CharField(max_length=300)
    content_hash = serializers.CharField(max_length=64, min_length=64)


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

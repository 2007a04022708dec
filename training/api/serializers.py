"""API shapes of courses, sessions, records and compliance rows (input validation, output)."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from rest_framework import serializers

from plans.models import Plan

from ..models import Course, Record, Session
from ..queries import State

User = get_user_model()


class CourseSerializer(serializers.ModelSerializer):
    required_for = serializers.SlugRelatedField(many=True, read_only=True, slug_field="name")

    class Meta:
        model = Course
        fields = (
            "id",
            "title",
            "kind",
            "description",
            "content",
            "required_for",
            "validity_days",
            "plan",
            "created_at",
        )
        read_only_fields = fields


class CourseWriteSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=Course.Kind.choices, required=False)
    description = serializers.CharField(allow_blank=True, required=False, max_length=20000)
    content = serializers.CharField(allow_blank=True, required=False, max_length=100000)
    required_for = serializers.SlugRelatedField(
        many=True, slug_field="name", queryset=Group.objects.all(), required=False
    )
    validity_days = serializers.IntegerField(
        min_value=1, max_value=36500, allow_null=True, required=False
    )
    plan = serializers.PrimaryKeyRelatedField(
        queryset=Plan.objects.all(), allow_null=True, required=False
    )


class SessionSerializer(serializers.ModelSerializer):
    course_title = serializers.CharField(source="course.title", read_only=True)

    class Meta:
        model = Session
        fields = (
            "id",
            "course",
            "course_title",
            "title",
            "starts_at",
            "ends_at",
            "facilitator",
            "location",
            "scenario",
            "objectives",
            "evaluation_criteria",
            "status",
            "created_at",
        )
        read_only_fields = fields


class SessionWriteSerializer(serializers.Serializer):
    course = serializers.PrimaryKeyRelatedField(queryset=Course.objects.all())
    title = serializers.CharField(max_length=200, allow_blank=True, required=False)
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    facilitator = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), allow_null=True, required=False
    )
    location = serializers.CharField(max_length=200, allow_blank=True, required=False)
    scenario = serializers.CharField(allow_blank=True, required=False, max_length=20000)
    objectives = serializers.CharField(allow_blank=True, required=False, max_length=20000)
    evaluation_criteria = serializers.CharField(allow_blank=True, required=False, max_length=20000)
    status = serializers.ChoiceField(choices=Session.Status.choices, required=False)
    reason = serializers.CharField(
        max_length=1000, allow_blank=True, required=False, write_only=True
    )

    def validate(self, attrs):
        starts = attrs.get("starts_at", getattr(self.instance, "starts_at", None))
        ends = attrs.get("ends_at", getattr(self.instance, "ends_at", None))
        if starts is not None and ends is not None and ends <= starts:
            raise serializers.ValidationError({"ends_at": ["A session ends after it starts."]})
        return attrs


class RecordSerializer(serializers.ModelSerializer):
    course = serializers.IntegerField(source="session.course_id", read_only=True)

    class Meta:
        model = Record
        fields = (
            "id",
            "user",
            "session",
            "course",
            "status",
            "completed_at",
            "score",
            "valid_until",
            "created_at",
        )
        read_only_fields = fields


class RecordWriteSerializer(serializers.Serializer):
    """PATCH: status, completion time, score, and why (kept in the history)."""

    status = serializers.ChoiceField(choices=Record.Status.choices, required=False)
    completed_at = serializers.DateTimeField(allow_null=True, required=False)
    score = serializers.IntegerField(min_value=0, max_value=100, allow_null=True, required=False)
    reason = serializers.CharField(max_length=1000, allow_blank=True, required=False)


class RecordCreateSerializer(RecordWriteSerializer):
    user = serializers.PrimaryKeyRelatedField(queryset=User.objects.filter(is_active=True))
    session = serializers.PrimaryKeyRelatedField(queryset=Session.objects.all())


class ComplianceRowSerializer(serializers.Serializer):
    user = serializers.IntegerField(source="user_id")
    username = serializers.CharField()
    full_name = serializers.SerializerMethodField()
    course = serializers.IntegerField(source="course_id")
    course_title = serializers.CharField()
    state = serializers.ChoiceField(choices=State.CHOICES)
    last_completed_at = serializers.DateTimeField(allow_null=True)
    valid_until = serializers.DateTimeField(allow_null=True)

    def get_full_name(self, row) -> str:
        return f"{row['first_name']} {row['last_name']}".strip()

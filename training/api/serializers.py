"""API shapes of courses, sessions, records and compliance rows (input validation, output)."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from rest_framework import serializers

from plans.models import Plan

from ..models import (
    Course,
    ExerciseEvaluation,
    ImprovementAction,
    ObjectiveResult,
    Record,
    Session,
)
from ..queries import State
from ..services import SESSION_FIELDS

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
    # The limits are the model's (validators and constraints): the admin and the import share them.
    description = serializers.CharField(
        allow_blank=True, required=False, max_length=Course.DESCRIPTION_MAX
    )
    content = serializers.CharField(allow_blank=True, required=False, max_length=Course.CONTENT_MAX)
    required_for = serializers.SlugRelatedField(
        many=True, slug_field="name", queryset=Group.objects.all(), required=False
    )
    validity_days = serializers.IntegerField(
        min_value=1, max_value=Course.VALIDITY_MAX_DAYS, allow_null=True, required=False
    )
    plan = serializers.PrimaryKeyRelatedField(
        queryset=Plan.objects.all(), allow_null=True, required=False
    )


class SessionSerializer(serializers.ModelSerializer):
    course_title = serializers.CharField(source="course.title", read_only=True)

    class Meta:
        model = Session
        fields = ("id", *SESSION_FIELDS, "course_title", "created_at")
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
    scenario = serializers.CharField(allow_blank=True, required=False, max_length=Session.TEXT_MAX)
    objectives = serializers.CharField(
        allow_blank=True, required=False, max_length=Session.TEXT_MAX
    )
    evaluation_criteria = serializers.CharField(
        allow_blank=True, required=False, max_length=Session.TEXT_MAX
    )
    status = serializers.ChoiceField(choices=Session.Status.choices, required=False)
    reason = serializers.CharField(
        max_length=1000, allow_blank=True, required=False, write_only=True
    )
    # That a session ends after it starts is the model's rule (Session.clean, a constraint).


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
    score = serializers.IntegerField(
        min_value=Record.SCORE_MIN, max_value=Record.SCORE_MAX, allow_null=True, required=False
    )
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


class ObjectiveResultSerializer(serializers.ModelSerializer):
    class Meta:
        model = ObjectiveResult
        fields = ("id", "objective", "met", "notes")
        read_only_fields = fields


class ImprovementActionSerializer(serializers.ModelSerializer):
    class Meta:
        model = ImprovementAction
        fields = ("id", "description", "owner", "due_date", "status", "plan", "change_request")
        read_only_fields = fields


class EvaluationSerializer(serializers.ModelSerializer):
    """An exercise's after-action evaluation: measured times (ISO 8601 durations as DRF writes
    them, "HH:MM:SS"), findings, each objective met or not, and the improvements it asked for."""

    course = serializers.IntegerField(source="session.course_id", read_only=True)
    session_title = serializers.CharField(source="session.__str__", read_only=True)
    objective_results = ObjectiveResultSerializer(many=True, read_only=True)
    improvement_actions = ImprovementActionSerializer(many=True, read_only=True)

    class Meta:
        model = ExerciseEvaluation
        fields = (
            "id",
            "session",
            "session_title",
            "course",
            "time_to_detect",
            "time_to_escalate",
            "time_to_contain",
            "findings",
            "evaluated_by",
            "evaluated_at",
            "objective_results",
            "improvement_actions",
        )
        read_only_fields = fields

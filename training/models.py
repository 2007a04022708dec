"""Tables of the training app: courses, sessions, records, exercise evaluations and reminders."""

import datetime

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.history import AuditedHistoricalRecords

# Limits the admin, the API and the sign-in sheet import share: they ask the model.
VALIDITY_MAX_DAYS = 36500
VALIDITY_MIN_MESSAGE = "Validity must be at least one day, or empty for training that never expires."
VALIDITY_MAX_MESSAGE = f"Validity is at most {VALIDITY_MAX_DAYS} days (100 years)."
ENDS_AFTER_START = "A session ends after it starts."
SCORE_MIN, SCORE_MAX = 0, 100
SCORE_MESSAGE = f"A score must be between {SCORE_MIN} and {SCORE_MAX}."
TIMES_NOT_NEGATIVE = "Times to detect, escalate and contain cannot be negative."


class Course(models.Model):
    """A course, awareness briefing, drill or exercise that some groups must complete."""

    class Kind(models.TextChoices):
        COURSE = "course", "Course"
        AWARENESS = "awareness", "Awareness briefing"
        DRILL = "drill", "Drill"
        TABLETOP = "tabletop", "Tabletop exercise"
        SIMULATION = "simulation", "Simulation"

    # Kinds whose sessions are exercises with an after-action evaluation.
    EXERCISE_KINDS = (Kind.DRILL, Kind.TABLETOP, Kind.SIMULATION)
    VALIDITY_MAX_DAYS = VALIDITY_MAX_DAYS
    DESCRIPTION_MAX = 20000
    CONTENT_MAX = 100000

    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.COURSE)
    description = models.TextField(blank=True, validators=[MaxLengthValidator(DESCRIPTION_MAX)])
    content = models.TextField(
        blank=True,
        help_text="Material or outline (Markdown).",
        validators=[MaxLengthValidator(CONTENT_MAX)],
    )
    required_for = models.ManyToManyField(
        Group,
        blank=True,
        related_name="required_courses",
        help_text="Members of these groups must complete this course.",
    )
    validity_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="How long a completion stays valid, in days. Empty: it never expires.",
        validators=[
            MinValueValidator(1, VALIDITY_MIN_MESSAGE),
            MaxValueValidator(VALIDITY_MAX_DAYS, VALIDITY_MAX_MESSAGE),
        ],
    )
    plan = models.ForeignKey(
        "plans.Plan",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="courses",
        help_text="The response plan this course trains, if any.",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    history = AuditedHistoricalRecords(m2m_fields=[required_for])

    class Meta:
        ordering = ("title", "id")
        constraints = [
            models.CheckConstraint(
                condition=Q(validity_days__isnull=True) | Q(validity_days__gte=1),
                name="course_validity_positive",
                violation_error_message=VALIDITY_MIN_MESSAGE,
            ),
            models.CheckConstraint(
                condition=Q(validity_days__isnull=True) | Q(validity_days__lte=VALIDITY_MAX_DAYS),
                name="course_validity_at_most_100_years",
                violation_error_message=VALIDITY_MAX_MESSAGE,
            ),
        ]
        permissions = [
            ("view_compliance_report", "Can see everyone's training compliance"),
            ("import_attendance", "Can import attendance sheets"),
        ]

    def __str__(self):
        return self.title

    @property
    def is_exercise(self):
        return self.kind in self.EXERCISE_KINDS

    def expiry_of(self, completed_at):
        """When a completion at `completed_at` stops being valid (None: never)."""
        if completed_at is None or self.validity_days is None:
            return None
        return completed_at + datetime.timedelta(days=self.validity_days)


class Session(models.Model):
    """One scheduled occurrence of a course: when, where, who leads it, what it exercises."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    # The one table of allowed session status changes (core.workflow checks it).
    pipeline = {
        Status.SCHEDULED: (Status.COMPLETED, Status.CANCELLED),
        Status.CANCELLED: (Status.SCHEDULED,),
        Status.COMPLETED: (),
    }
    TEXT_MAX = 20000

    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="sessions")
    title = models.CharField(max_length=200, blank=True)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    facilitator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="facilitated_training_sessions",
    )
    location = models.CharField(max_length=200, blank=True)
    scenario = models.TextField(blank=True, validators=[MaxLengthValidator(TEXT_MAX)])
    objectives = models.TextField(
        blank=True, help_text="One objective per line.", validators=[MaxLengthValidator(TEXT_MAX)]
    )
    evaluation_criteria = models.TextField(blank=True, validators=[MaxLengthValidator(TEXT_MAX)])
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.SCHEDULED)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    history = AuditedHistoricalRecords()

    class Meta:
        ordering = ("-starts_at", "-id")
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")),
                name="session_ends_after_start",
                violation_error_message=ENDS_AFTER_START,
            ),
        ]
        indexes = [
            models.Index(fields=["course", "starts_at"]),
            models.Index(fields=["-starts_at", "-id"], name="session_default_order"),
        ]

    def __str__(self):
        label = self.title or (self.course.title if self.course_id else "Session")
        return f"{label} ({timezone.localtime(self.starts_at):%d %b %Y})"

    def clean(self):
        # The constraint's rule, on the field it is about (the admin and the API point at it).
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": ENDS_AFTER_START})

    @property
    def objective_list(self):
        return [line.strip(" -*\t") for line in self.objectives.splitlines() if line.strip(" -*\t")]


class Record(models.Model):
    """One person's registration, attendance and result for one session."""

    class Status(models.TextChoices):
        REGISTERED = "registered", "Registered"
        ATTENDED = "attended", "Attended"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        NO_SHOW = "no_show", "No-show"
        EXCUSED = "excused", "Excused"

    # Statuses that carry a result time (completion, or the time of failing).
    RESULT_STATUSES = (Status.COMPLETED, Status.FAILED)
    SCORE_MIN, SCORE_MAX = SCORE_MIN, SCORE_MAX

    # The one table of allowed record status changes (core.workflow checks it). Backward
    # steps exist for corrections (a no-show who turns out to have come, a completion
    # entered by mistake); each change carries a reason in the history.
    pipeline = {
        Status.REGISTERED: (
            Status.ATTENDED, Status.COMPLETED, Status.FAILED, Status.NO_SHOW, Status.EXCUSED
        ),
        Status.ATTENDED: (Status.COMPLETED, Status.FAILED, Status.NO_SHOW),
        Status.COMPLETED: (Status.ATTENDED, Status.FAILED),
        Status.FAILED: (Status.ATTENDED, Status.COMPLETED),
        Status.NO_SHOW: (Status.REGISTERED, Status.ATTENDED, Status.COMPLETED, Status.EXCUSED),
        Status.EXCUSED: (Status.REGISTERED, Status.ATTENDED, Status.NO_SHOW),
    }

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="training_records"
    )
    session = models.ForeignKey(Session, on_delete=models.PROTECT, related_name="records")
    # Copied from the session on save (a session with records never changes course), so the
    # compliance query finds a person's latest completion of a course in one index probe.
    course = models.ForeignKey(
        Course, on_delete=models.PROTECT, related_name="records", editable=False
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.REGISTERED)
    completed_at = models.DateTimeField(null=True, blank=True)
    score = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[
            MinValueValidator(SCORE_MIN, SCORE_MESSAGE),
            MaxValueValidator(SCORE_MAX, SCORE_MESSAGE),
        ],
    )
    # Derived by the services from completed_at and the course's validity_days.
    valid_until = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    history = AuditedHistoricalRecords()

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "session"],
                name="record_once_per_session",
                violation_error_message="This person already has a record for this session.",
            ),
            models.CheckConstraint(
                condition=~Q(status="completed") | Q(completed_at__isnull=False),
                name="record_completed_has_time",
                violation_error_message="A completed record needs the time it was completed.",
            ),
            models.CheckConstraint(
                condition=Q(completed_at__isnull=True) | Q(status__in=["completed", "failed"]),
                name="record_time_only_with_result",
                violation_error_message="A completion time belongs only to a completed or failed record.",
            ),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(status="completed"),
                name="record_validity_only_when_completed",
                violation_error_message="Only a completed record is valid until a date.",
            ),
            models.CheckConstraint(
                condition=Q(score__isnull=True) | Q(score__gte=SCORE_MIN, score__lte=SCORE_MAX),
                name="record_score_0_100",
                violation_error_message=SCORE_MESSAGE,
            ),
        ]
        indexes = [
            # The compliance query's lookup: a person's completions of a course, newest first
            # (one index probe per row; without the course a probe walks all their records).
            models.Index(
                fields=["user", "course", "status", "-completed_at"],
                name="record_user_course_completions",
            ),
            models.Index(fields=["session", "status"]),
        ]

    def __str__(self):
        return f"{self.user} · {self.session} · {self.get_status_display()}"

    def save(self, *args, **kwargs):
        if self.session_id is not None:
            self.course_id = self.session.course_id
        super().save(*args, **kwargs)


_not_negative = MinValueValidator(datetime.timedelta(0), TIMES_NOT_NEGATIVE)


class ExerciseEvaluation(models.Model):
    """The after-action report of an exercise session: measured times and findings."""

    session = models.OneToOneField(Session, on_delete=models.PROTECT, related_name="evaluation")
    time_to_detect = models.DurationField(null=True, blank=True, validators=[_not_negative])
    time_to_escalate = models.DurationField(null=True, blank=True, validators=[_not_negative])
    time_to_contain = models.DurationField(null=True, blank=True, validators=[_not_negative])
    findings = models.TextField(blank=True)
    evaluated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="training_evaluations",
    )
    evaluated_at = models.DateTimeField(default=timezone.now)

    history = AuditedHistoricalRecords()

    class Meta:
        ordering = ("-evaluated_at", "-id")
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(time_to_detect__isnull=True) | Q(time_to_detect__gte=datetime.timedelta(0))
                )
                & (
                    Q(time_to_escalate__isnull=True)
                    | Q(time_to_escalate__gte=datetime.timedelta(0))
                )
                & (Q(time_to_contain__isnull=True) | Q(time_to_contain__gte=datetime.timedelta(0))),
                name="evaluation_times_not_negative",
                violation_error_message=TIMES_NOT_NEGATIVE,
            ),
        ]

    def __str__(self):
        return f"Evaluation of {self.session}"


class ObjectiveResult(models.Model):
    """Whether one objective of an exercise was met."""

    evaluation = models.ForeignKey(
        ExerciseEvaluation, on_delete=models.CASCADE, related_name="objective_results"
    )
    objective = models.CharField(max_length=300)
    met = models.BooleanField(default=False)
    notes = models.TextField(blank=True)

    history = AuditedHistoricalRecords()

    class Meta:
        ordering = ("evaluation", "id")

    def __str__(self):
        return f"{self.objective}: {'met' if self.met else 'not met'}"


class ImprovementAction(models.Model):
    """Something to improve after an exercise; may point to the plan to revise."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        IN_PROGRESS = "in_progress", "In progress"
        DONE = "done", "Done"
        CANCELLED = "cancelled", "Cancelled"

    evaluation = models.ForeignKey(
        ExerciseEvaluation, on_delete=models.PROTECT, related_name="improvement_actions"
    )
    description = models.TextField()
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="training_improvement_actions",
    )
    due_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    plan = models.ForeignKey(
        "plans.Plan",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="training_improvement_actions",
        help_text="The plan to revise, if the finding is about the plan.",
    )
    change_request = models.ForeignKey(
        "plans.PlanChangeRequest",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="training_improvement_actions",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    history = AuditedHistoricalRecords()

    class Meta:
        ordering = ("evaluation", "id")

    def __str__(self):
        return self.description[:80]


class ReminderClock(models.Model):
    """Per person: when they were last reminded about training; the row reminder senders lock."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="training_reminder_clock"
    )
    last_sent_at = models.DateTimeField(null=True, blank=True)
    last_courses = models.TextField(blank=True, help_text="What the last reminder was about.")

    history = AuditedHistoricalRecords()

    def __str__(self):
        return f"Training reminder clock of {self.user}"

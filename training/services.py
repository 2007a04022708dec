"""Every state change of courses, sessions, records, evaluations, imports and reminders."""

import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import Conflict, InvalidInput, NotPermitted, TransitionNotAllowed  # noqa: F401
from core.history import stamp
from core.reminders import claimed_clock
from core.services import audited_save

from .models import (
    Course,
    ExerciseEvaluation,
    ImprovementAction,
    ObjectiveResult,
    Record,
    ReminderClock,
    Session,
)

R = Record.Status
SS = Session.Status

RECORD_TRANSITIONS = Record.pipeline  # the table lives on the model

SESSION_TRANSITIONS = Session.pipeline  # the table lives on the model

# A completion time may be this far ahead of the server clock (clock skew), no further.
FUTURE_TOLERANCE = datetime.timedelta(minutes=5)

COURSE_FIELDS = ("title", "kind", "description", "content", "validity_days", "plan")
SESSION_FIELDS = (
    "course",
    "title",
    "starts_at",
    "ends_at",
    "facilitator",
    "location",
    "scenario",
    "objectives",
    "evaluation_criteria",
    "status",
)
EVALUATION_FIELDS = ("time_to_detect", "time_to_escalate", "time_to_contain", "findings")
ACTION_FIELDS = ("description", "owner", "due_date", "status", "plan")

_UNSET = object()


def _require(actor, perm, message):
    if not actor.has_perm(perm):
        raise NotPermitted(message)


def _check_fields(fields, allowed):
    unknown = set(fields) - set(allowed)
    if unknown:
        raise InvalidInput(f"Unknown fields: {', '.join(sorted(unknown))}.")


# Courses


@transaction.atomic
def course_create(
    *,
    actor,
    title,
    kind=Course.Kind.COURSE,
    description="",
    content="",
    required_for=(),
    validity_days=None,
    plan=None,
):
    """A new course, drill or exercise, required of the given groups."""
    _require(actor, "training.add_course", "You may not create courses.")
    course = Course(
        title=title,
        kind=kind,
        description=description,
        content=content,
        validity_days=validity_days,
        plan=plan,
    )
    audited_save(course, actor=actor, reason="Course created")
    if required_for:
        course.required_for.set(required_for)
    return course


@transaction.atomic
def course_update(*, course, actor, required_for=None, reason="", **fields):
    """Change a course. A new validity recomputes the expiry of every completion of it."""
    _require(actor, "training.change_course", "You may not change courses.")
    _check_fields(fields, COURSE_FIELDS)
    course = Course.objects.select_for_update().get(pk=course.pk)
    validity_changed = "validity_days" in fields and fields["validity_days"] != course.validity_days
    changed = [name for name, value in fields.items() if getattr(course, name) != value]
    for name, value in fields.items():
        setattr(course, name, value)
    if changed:
        audited_save(course, actor=actor, reason=reason or "Course edited")
    if required_for is not None:
        course._history_user = actor
        course._change_reason = reason or "Required groups changed"
        course.required_for.set(required_for)
    if validity_changed:
        completed = (
            Record.objects.select_for_update()
            .filter(session__course=course, status=R.COMPLETED)
            .order_by("pk")
        )
        for record in completed.iterator(chunk_size=500):
            record.valid_until = course.expiry_of(record.completed_at)
            audited_save(
                record, actor=actor, reason=f"Course validity changed to {course.validity_days}"
            )
    return course


# Sessions


def _check_session_transition(session, target):
    if target != session.status and target not in SESSION_TRANSITIONS[session.status]:
        raise TransitionNotAllowed(
            f"A {session.get_status_display().lower()} session cannot become "
            f"{SS(target).label.lower()}.",
            field="status",
        )


@transaction.atomic
def session_create(*, actor, course, starts_at, ends_at, status=SS.SCHEDULED, **fields):
    """Schedule a session of a course (past sessions may be recorded after the fact)."""
    _require(actor, "training.add_session", "You may not schedule sessions.")
    _check_fields(fields, SESSION_FIELDS)
    session = Session(course=course, starts_at=starts_at, ends_at=ends_at, status=status, **fields)
    return audited_save(session, actor=actor, reason="Session scheduled")


@transaction.atomic
def session_update(*, session, actor, reason="", **fields):
    """Change a session's details or status (by the session transition table)."""
    _require(actor, "training.change_session", "You may not change sessions.")
    _check_fields(fields, SESSION_FIELDS)
    session = Session.objects.select_for_update().select_related("course").get(pk=session.pk)
    if "status" in fields:
        _check_session_transition(session, fields["status"])
    course = fields.get("course")
    if course is not None and course.pk != session.course_id and session.records.exists():
        # Records' expiry dates were computed from this course's validity.
        raise Conflict("A session with records cannot move to another course.", field="course")
    changed = [name for name, value in fields.items() if getattr(session, name) != value]
    if not changed:
        return session
    for name in changed:
        setattr(session, name, fields[name])
    if reason:
        why = reason
    elif changed == ["status"]:
        why = f"Session {session.get_status_display().lower()}"
    else:
        why = "Session edited"
    return audited_save(session, actor=actor, reason=why)


# Records


def default_completion_time(session, now):
    """A completion entered without a time happened when the session ended (or now, if later)."""
    return session.ends_at if session.ends_at <= now else now


def _set_result(record, *, status, completed_at, session, now):
    """Apply a status and completion time to `record` and derive valid_until."""
    if completed_at is not None and completed_at > now + FUTURE_TOLERANCE:
        raise InvalidInput("A completion cannot be in the future.", field="completed_at")
    if status in Record.RESULT_STATUSES:
        if completed_at is None:
            completed_at = record.completed_at or default_completion_time(session, now)
    elif completed_at is not None:
        raise InvalidInput(
            "Only completed or failed records have a completion time.", field="completed_at"
        )
    record.status = status
    record.completed_at = completed_at if status in Record.RESULT_STATUSES else None
    record.valid_until = (
        session.course.expiry_of(record.completed_at) if status == R.COMPLETED else None
    )


def _check_record_transition(record, target):
    if target != record.status and target not in RECORD_TRANSITIONS[record.status]:
        raise TransitionNotAllowed(
            f"A record that is {record.get_status_display().lower()} cannot become "
            f"{R(target).label.lower()}.",
            field="status",
        )


def _check_session_open(session, status):
    if session.status == SS.CANCELLED and status != R.EXCUSED:
        raise Conflict("The session was cancelled.", field="session")


def record_register(
    *,
    actor,
    user,
    session,
    status=R.REGISTERED,
    completed_at=None,
    score=None,
    reason="",
    now=None,
):
    """Register a person for a session, or record their attendance or result directly."""
    _require(actor, "training.add_record", "You may not record training.")
    now = now or timezone.now()
    with transaction.atomic():
        session = Session.objects.select_related("course").get(pk=session.pk)
        _check_session_open(session, status)
        if not user.is_active:
            raise InvalidInput("This person's account is inactive.", field="user")
        record = Record(user=user, session=session, score=score)
        _set_result(record, status=status, completed_at=completed_at, session=session, now=now)
        if Record.objects.filter(user=user, session=session).exists():
            raise Conflict("This person already has a record for this session.", field="user")
        try:
            with transaction.atomic():
                _audited_save_record(
                    record,
                    actor=actor,
                    reason=reason or f"Recorded as {record.get_status_display().lower()}",
                )
        except IntegrityError as exc:
            raise Conflict(
                "This person already has a record for this session.", field="user"
            ) from exc
    return record


def _check_record_constraints(record):
    # The check constraints, in Python, so a violation is a clear 400 rather than a crash.
    if record.score is not None and not 0 <= record.score <= 100:
        raise InvalidInput("A score is between 0 and 100.", field="score")


def _audited_save_record(record, *, actor, reason):
    # Uniqueness is the database's job (a race loses with IntegrityError); the
    # check constraints are validated in Python for a clear message.
    record.full_clean(validate_unique=False, validate_constraints=False)
    _check_record_constraints(record)
    stamp(record, actor=actor, reason=reason)
    record.save()
    return record


@transaction.atomic
def record_update(
    *, record, actor, status=None, completed_at=_UNSET, score=_UNSET, reason="", now=None
):
    """Change a record's status, completion time or score; valid_until follows."""
    _require(actor, "training.change_record", "You may not change training records.")
    now = now or timezone.now()
    record = (
        Record.objects.select_for_update()
        .select_related("session", "session__course")
        .get(pk=record.pk)
    )
    before = (record.status, record.completed_at, record.score)
    target = status or record.status
    _check_record_transition(record, target)
    if target != record.status:
        _check_session_open(record.session, target)
    if completed_at is _UNSET:
        completed_at = record.completed_at if target in Record.RESULT_STATUSES else None
    _set_result(record, status=target, completed_at=completed_at, session=record.session, now=now)
    if score is not _UNSET:
        record.score = score
    if (record.status, record.completed_at, record.score) == before:
        return record
    if not reason:
        if record.status != before[0]:
            reason = f"{R(before[0]).label} → {record.get_status_display()}"
        else:
            reason = "Record corrected"
    return _audited_save_record(record, actor=actor, reason=reason)


def _mark(records, *, actor, status, reason, completed_at=None):
    """Apply one status to many records, each through record_update (history per record).

    Returns (changed, refused): records already in the status count as changed;
    a record the transition table refuses is listed in `refused` with the reason.
    """
    changed, refused = [], []
    for record in records:
        try:
            with transaction.atomic():
                kwargs = {"completed_at": completed_at} if completed_at is not None else {}
                changed.append(
                    record_update(
                        record=record, actor=actor, status=status, reason=reason, **kwargs
                    )
                )
        except (TransitionNotAllowed, Conflict, InvalidInput) as exc:
            refused.append((record, exc.message))
    return changed, refused


def mark_attended(*, records, actor, reason=""):
    """Mark each record attended (a loop of audited saves, never a bulk update)."""
    return _mark(records, actor=actor, status=R.ATTENDED, reason=reason or "Marked attended")


def mark_completed(*, records, actor, completed_at=None, reason=""):
    """Mark each record completed; the completion time defaults to the session's end."""
    return _mark(
        records,
        actor=actor,
        status=R.COMPLETED,
        reason=reason or "Marked completed",
        completed_at=completed_at,
    )


# Attendance import


class ImportRejected(InvalidInput):
    """The attendance sheet has errors; nothing was imported."""

    def __init__(self, rows):
        super().__init__("The attendance sheet has errors; nothing was imported.")
        self.rows = rows


@transaction.atomic
def import_attendance(*, actor, rows, source=""):
    """Apply checked sign-in sheet rows (see `training.imports`) all or nothing.

    Each row creates the person's record for the session or moves their existing
    record to the sheet's status. If any row fails (here or in the check), the
    whole sheet is rolled back and ImportRejected lists the rows and their errors.
    """
    _require(actor, "training.import_attendance", "You may not import attendance.")
    if any(row.errors for row in rows):
        raise ImportRejected(rows)
    reason = f"Imported from attendance sheet {source}".strip()
    failed = False
    for row in rows:
        try:
            with transaction.atomic():
                existing = Record.objects.filter(user=row.user, session=row.session).first()
                if existing is None:
                    row.record = record_register(
                        actor=actor,
                        user=row.user,
                        session=row.session,
                        status=row.status,
                        completed_at=row.completed_at,
                        score=row.score,
                        reason=reason,
                    )
                    row.action = "created"
                else:
                    kwargs = {"completed_at": row.completed_at} if row.completed_at else {}
                    if row.score is not None:
                        kwargs["score"] = row.score
                    row.record = record_update(
                        record=existing, actor=actor, status=row.status, reason=reason, **kwargs
                    )
                    row.action = "updated"
        except (InvalidInput, Conflict, TransitionNotAllowed) as exc:
            row.errors.append(exc.message)
            failed = True
    if failed:
        # Raising rolls back the outer transaction: no row of the sheet stays.
        raise ImportRejected(rows)
    return rows


# Exercise evaluations


def _exercise_session(session):
    session = Session.objects.select_related("course").get(pk=session.pk)
    if not session.course.is_exercise:
        raise InvalidInput(
            "Only drills, tabletop exercises and simulations are evaluated.", field="session"
        )
    return session


@transaction.atomic
def evaluation_save(*, session, actor, reason="", **fields):
    """Create or update the after-action evaluation of an exercise session."""
    _check_fields(fields, EVALUATION_FIELDS)
    session = _exercise_session(session)
    evaluation = ExerciseEvaluation.objects.select_for_update().filter(session=session).first()
    if evaluation is None:
        _require(actor, "training.add_exerciseevaluation", "You may not evaluate exercises.")
        evaluation = ExerciseEvaluation(session=session, evaluated_by=actor, **fields)
        return audited_save(evaluation, actor=actor, reason=reason or "Evaluation recorded")
    _require(actor, "training.change_exerciseevaluation", "You may not change evaluations.")
    changed = [name for name, value in fields.items() if getattr(evaluation, name) != value]
    if not changed:
        return evaluation
    for name in changed:
        setattr(evaluation, name, fields[name])
    return audited_save(evaluation, actor=actor, reason=reason or "Evaluation edited")


@transaction.atomic
def objective_result_save(*, evaluation, actor, objective, met, notes="", result=None, reason=""):
    """Record whether an objective of the exercise was met (new, or a change to `result`)."""
    _require(actor, "training.change_exerciseevaluation", "You may not change evaluations.")
    if result is None:
        result = ObjectiveResult(evaluation=evaluation)
    else:
        result = ObjectiveResult.objects.select_for_update().get(pk=result.pk)
    result.objective, result.met, result.notes = objective, met, notes
    return audited_save(result, actor=actor, reason=reason or "Objective assessed")


@transaction.atomic
def objective_results_from_session(*, evaluation, actor):
    """One result row (not met yet) per objective line of the session that has none."""
    have = set(evaluation.objective_results.values_list("objective", flat=True))
    created = []
    for objective in evaluation.session.objective_list:
        if objective[:300] not in have:
            created.append(
                objective_result_save(
                    evaluation=evaluation,
                    actor=actor,
                    objective=objective[:300],
                    met=False,
                    reason="From the session's objectives",
                )
            )
    return created


@transaction.atomic
def improvement_action_save(
    *, evaluation, actor, action=None, request_plan_change=False, reason="", **fields
):
    """Add or change an improvement action; optionally raise a change request on its plan."""
    _require(actor, "training.change_exerciseevaluation", "You may not change evaluations.")
    _check_fields(fields, ACTION_FIELDS)
    if action is None:
        action = ImprovementAction(evaluation=evaluation, **fields)
        why = reason or "Improvement action added"
    else:
        action = ImprovementAction.objects.select_for_update().get(pk=action.pk)
        for name, value in fields.items():
            setattr(action, name, value)
        why = reason or "Improvement action edited"
    audited_save(action, actor=actor, reason=why)
    if request_plan_change and action.plan_id and action.change_request_id is None:
        from plans.services import change_request_create

        session = evaluation.session
        action.change_request = change_request_create(
            plan=action.plan,
            actor=actor,
            summary=action.description[:300],
            details=evaluation.findings,
            source=f"Exercise: {session}"[:200],
        )
        audited_save(action, actor=actor, reason="Plan change requested")
    return action


# Reminders


def reminder_send(*, user, actor, subject, lines, send, now=None):
    """Remind one person unless reminded within the interval or another sender holds them.

    The per-person ReminderClock is claimed by `core.reminders.claimed_clock`;
    its time keeps later runs away for TRAINING_REMINDER_INTERVAL_DAYS.
    """
    now = now or timezone.now()
    with claimed_clock(
        ReminderClock, user, interval_days=settings.TRAINING_REMINDER_INTERVAL_DAYS, now=now
    ) as clock:
        if clock is None:
            return False
        clock.last_sent_at = now
        clock.last_courses = "\n".join(lines)
        audited_save(clock, actor=actor, reason=subject)
        # Inside the transaction: enqueueing the email task fails or commits with the clock.
        send()
    return True

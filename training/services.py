"""Every state change of courses, sessions, records, evaluations, imports and reminders."""

import datetime

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import Conflict, InvalidInput, NotPermitted, TransitionNotAllowed  # noqa: F401
from core.mail import email_queue
from core.reminders import claimed_clock
from core.services import audited_save, lock, model_update, require
from core.workflow import check_transition

from . import queries
from .models import (
    Course,
    ExerciseEvaluation,
    ImprovementAction,
    ObjectiveResult,
    Record,
    ReminderClock,
    Session,
)

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
OBJECTIVE_FIELDS = ("objective", "met", "notes")

_UNSET = object()


def _write(instance, *, actor, fields, allowed, reason):
    """Set `fields` on `instance` and save it once if anything changed or it is a new row (its
    required links set): model_update refuses names outside `allowed`, validates and stamps."""
    model_update(instance=instance, actor=actor, fields=fields, allowed=allowed, reason=reason)
    if instance.pk is None:  # a new row whose values are all the defaults is still a new row
        audited_save(instance, actor=actor, reason=reason)
    return instance


# Courses


@transaction.atomic
def course_create(*, actor, title, required_for=(), reason="", **fields):
    """A new course, drill or exercise, required of the given groups."""
    require(actor, "training.add_course", "You may not create courses.")
    course = _write(
        Course(),
        actor=actor,
        fields={"title": title, **fields},
        allowed=COURSE_FIELDS,
        reason=reason or "Course created",
    )
    if required_for:
        course.required_for.set(required_for)
    return course


@transaction.atomic
def course_update(*, course, actor, required_for=None, reason="", **fields):
    """Change a course. A new validity recomputes the expiry of every completion of it."""
    require(actor, "training.change_course", "You may not change courses.")
    course = lock(course)
    changed = model_update(
        instance=course,
        actor=actor,
        fields=fields,
        allowed=COURSE_FIELDS,
        reason=reason or "Course edited",
    )
    if required_for is not None:
        course._history_user = actor
        course._change_reason = reason or "Required groups changed"
        course.required_for.set(required_for)
    if "validity_days" in changed:
        _recompute_expiry(course, actor=actor)
    return course


def _recompute_expiry(course, *, actor):
    completed = (
        Record.objects.select_for_update()
        .filter(session__course=course, status=Record.Status.COMPLETED)
        .order_by("pk")
    )
    for record in completed.iterator(chunk_size=500):
        record.valid_until = course.expiry_of(record.completed_at)
        audited_save(
            record, actor=actor, reason=f"Course validity changed to {course.validity_days}"
        )


# Sessions


@transaction.atomic
def session_create(*, actor, course, starts_at, ends_at, reason="", **fields):
    """Schedule a session of a course (past sessions may be recorded after the fact)."""
    require(actor, "training.add_session", "You may not schedule sessions.")
    return _write(
        Session(course=course, starts_at=starts_at, ends_at=ends_at),
        actor=actor,
        fields=fields,
        allowed=SESSION_FIELDS,
        reason=reason or "Session scheduled",
    )


@transaction.atomic
def session_update(*, session, actor, reason="", **fields):
    """Change a session's details or status (by the session's pipeline)."""
    require(actor, "training.change_session", "You may not change sessions.")
    session = lock(session, select_related=("course",))
    if "status" in fields:
        check_transition(session, fields["status"], allow_same=True)
    course = fields.get("course")
    if course is not None and course.pk != session.course_id and session.records.exists():
        # Records' expiry dates were computed from this course's validity.
        raise Conflict("A session with records cannot move to another course.", field="course")
    reason = reason or _session_change_reason(session, fields)
    model_update(
        instance=session, actor=actor, fields=fields, allowed=SESSION_FIELDS, reason=reason
    )
    return session


def _session_change_reason(session, fields):
    """ "Session cancelled" when only the status changes, else "Session edited"."""
    others = [
        name
        for name, value in fields.items()
        if name != "status" and getattr(session, name, None) != value
    ]
    status = fields.get("status", session.status)
    if status != session.status and not others:
        return f"Session {Session.Status(status).label.lower()}"
    return "Session edited"


# Records

# The record's person and session are loaded by the service (so they exist) and its uniqueness
# is the database's (a race loses with IntegrityError): full_clean checks the rest.
RECORD_LOADED = ("user", "session")


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
        session.course.expiry_of(record.completed_at) if status == Record.Status.COMPLETED else None
    )


def _check_session_open(session, status):
    if not queries.takes_records(session, status):
        raise Conflict("The session was cancelled.", field="session")


def _save_record(record, *, actor, reason):
    """audited_save; a limit of the model (a score over 100) refuses as InvalidInput naming the
    field, as the services' own rules do (the import lists it on the sheet's row)."""
    try:
        return audited_save(record, actor=actor, reason=reason, exclude=RECORD_LOADED)
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise InvalidInput(messages[0], field=None if field == NON_FIELD_ERRORS else field) from exc


def record_register(
    *,
    actor,
    user,
    session,
    status=Record.Status.REGISTERED,
    completed_at=None,
    score=None,
    reason="",
    now=None,
):
    """Register a person for a session, or record their attendance or result directly."""
    require(actor, "training.add_record", "You may not record training.")
    now = now or timezone.now()
    duplicate = "This person already has a record for this session."
    with transaction.atomic():
        session = Session.objects.select_related("course").get(pk=session.pk)
        _check_session_open(session, status)
        if not user.is_active:
            raise InvalidInput("This person's account is inactive.", field="user")
        record = Record(user=user, session=session, score=score)
        _set_result(record, status=status, completed_at=completed_at, session=session, now=now)
        if Record.objects.filter(user=user, session=session).exists():
            raise Conflict(duplicate, field="user")
        reason = reason or f"Recorded as {record.get_status_display().lower()}"
        try:
            with transaction.atomic():
                _save_record(record, actor=actor, reason=reason)
        except IntegrityError as exc:
            raise Conflict(duplicate, field="user") from exc
    return record


@transaction.atomic
def record_update(
    *, record, actor, status=None, completed_at=_UNSET, score=_UNSET, reason="", now=None
):
    """Change a record's status, completion time or score; valid_until follows."""
    require(actor, "training.change_record", "You may not change training records.")
    now = now or timezone.now()
    record = lock(record, select_related=("session", "session__course"))
    before = (record.status, record.completed_at, record.score)
    target = status or record.status
    check_transition(record, target, allow_same=True)
    if target != record.status:
        _check_session_open(record.session, target)
    if completed_at is _UNSET:
        completed_at = record.completed_at if target in Record.RESULT_STATUSES else None
    _set_result(record, status=target, completed_at=completed_at, session=record.session, now=now)
    if score is not _UNSET:
        record.score = score
    if (record.status, record.completed_at, record.score) == before:
        return record
    if not reason and record.status != before[0]:
        reason = f"{Record.Status(before[0]).label} → {record.get_status_display()}"
    return _save_record(record, actor=actor, reason=reason or "Record corrected")


def _mark(records, *, actor, status, reason, completed_at=None):
    """Apply one status to many records, each through record_update (history per record).

    Returns (changed, refused): records already in the status count as changed;
    a record the pipeline refuses is listed in `refused` with the reason.
    """
    changed, refused = [], []
    kwargs = {"completed_at": completed_at} if completed_at is not None else {}
    for record in records:
        try:
            with transaction.atomic():
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
    return _mark(
        records, actor=actor, status=Record.Status.ATTENDED, reason=reason or "Marked attended"
    )


def mark_completed(*, records, actor, completed_at=None, reason=""):
    """Mark each record completed; the completion time defaults to the session's end."""
    return _mark(
        records,
        actor=actor,
        status=Record.Status.COMPLETED,
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
    require(actor, "training.import_attendance", "You may not import attendance.")
    if any(row.errors for row in rows):
        raise ImportRejected(rows)
    reason = f"Imported from attendance sheet {source}".strip()
    failed = False
    for row in rows:
        try:
            with transaction.atomic():
                _import_row(row, actor=actor, reason=reason)
        except (InvalidInput, Conflict, TransitionNotAllowed) as exc:
            row.errors.append(exc.message)
            failed = True
    if failed:
        # Raising rolls back the outer transaction: no row of the sheet stays.
        raise ImportRejected(rows)
    return rows


def _import_row(row, *, actor, reason):
    """Create the row's record, or move the existing one to the sheet's status."""
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
        return
    kwargs = {"completed_at": row.completed_at} if row.completed_at else {}
    if row.score is not None:
        kwargs["score"] = row.score
    row.record = record_update(
        record=existing, actor=actor, status=row.status, reason=reason, **kwargs
    )
    row.action = "updated"


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
    session = _exercise_session(session)
    evaluation = ExerciseEvaluation.objects.select_for_update().filter(session=session).first()
    if evaluation is None:
        require(actor, "training.add_exerciseevaluation", "You may not evaluate exercises.")
        evaluation = ExerciseEvaluation(session=session, evaluated_by=actor)
        why = "Evaluation recorded"
    else:
        require(actor, "training.change_exerciseevaluation", "You may not change evaluations.")
        why = "Evaluation edited"
    return _write(
        evaluation, actor=actor, fields=fields, allowed=EVALUATION_FIELDS, reason=reason or why
    )


def evaluation_update(*, evaluation, actor, reason="", **fields):
    """Change the evaluation `evaluation` (the admin's change form)."""
    return evaluation_save(session=evaluation.session, actor=actor, reason=reason, **fields)


@transaction.atomic
def objective_result_save(*, evaluation, actor, objective, met, notes="", result=None, reason=""):
    """Record whether an objective of the exercise was met (new, or a change to `result`)."""
    require(actor, "training.change_exerciseevaluation", "You may not change evaluations.")
    result = ObjectiveResult(evaluation=evaluation) if result is None else lock(result)
    return _write(
        result,
        actor=actor,
        fields={"objective": objective, "met": met, "notes": notes},
        allowed=OBJECTIVE_FIELDS,
        reason=reason or "Objective assessed",
    )


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
    """Add or change an improvement action; optionally raise a change request on its plan.

    Its status has no pipeline: any status may follow any other (an action done may be
    reopened, a cancelled one taken up again), so there is no rule to check.
    """
    require(actor, "training.change_exerciseevaluation", "You may not change evaluations.")
    if action is None:
        action, why = ImprovementAction(evaluation=evaluation), "Improvement action added"
    else:
        action, why = lock(action), "Improvement action edited"
    _write(action, actor=actor, fields=fields, allowed=ACTION_FIELDS, reason=reason or why)
    if request_plan_change and action.plan_id and action.change_request_id is None:
        _request_plan_change(action, evaluation=evaluation, actor=actor)
    return action


def _request_plan_change(action, *, evaluation, actor):
    from plans.services import change_request_create

    action.change_request = change_request_create(
        plan=action.plan,
        actor=actor,
        summary=action.description[:300],
        details=evaluation.findings,
        source=f"Exercise: {evaluation.session}"[:200],
    )
    audited_save(action, actor=actor, reason="Plan change requested")


# Reminders


def reminder_send(*, user, actor, email, subject, body, lines, now=None):
    """Remind one person by email unless reminded within the interval or another sender holds them.

    The per-person ReminderClock is claimed by `core.reminders.claimed_clock`; its time keeps
    later runs away for TRAINING_REMINDER_INTERVAL_DAYS. The email is queued in the outbox with
    the clock and leaves once they commit (core.mail.email_queue): a rolled-back claim emails no
    one, and a failed delivery is recorded on the outbox row and retried.
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
        email_queue(subject=subject, body=body, recipients=[email])
    return True

"""Read side of training: visible records, and per-person compliance computed in the database."""

import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    F,
    OuterRef,
    Prefetch,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from .models import Course, Record, Session

User = get_user_model()
Membership = User.groups.through


class State:
    CURRENT = "current"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"
    NEVER = "never"
    ALL = (CURRENT, DUE_SOON, OVERDUE, NEVER)
    CHOICES = [
        (CURRENT, "Current"),
        (DUE_SOON, "Due soon"),
        (OVERDUE, "Overdue"),
        (NEVER, "Never done"),
    ]
    # What people are reminded about.
    REMIND = (DUE_SOON, OVERDUE)


def can_see_all_records(user):
    return user.has_perm("training.view_compliance_report")


def records_for(user):
    """Training records `user` may read: everyone's for compliance and coordinators, else own."""
    qs = Record.objects.select_related("session", "session__course")
    if not can_see_all_records(user):
        qs = qs.filter(user=user)
    return qs


def courses_list():
    return Course.objects.prefetch_related(
        Prefetch("required_for", queryset=Group.objects.order_by("name"))
    )


def sessions_list():
    return Session.objects.select_related("course", "facilitator")


def due_soon_window():
    return datetime.timedelta(days=settings.TRAINING_DUE_SOON_DAYS)


def _latest_completions():
    """The person's completed records of the row's course, newest first (for subqueries)."""
    return Record.objects.filter(
        user_id=OuterRef("user_id"),
        course_id=OuterRef("course_id"),
        status=Record.Status.COMPLETED,
    ).order_by("-completed_at", "-pk")


def state_expression(now):
    """The compliance state of a row: one subquery over the latest completion.

    Edges (docs/training.md): a completion is valid up to but not including
    `valid_until`, so `valid_until == now` is overdue; `due_soon` is
    `now < valid_until <= now + TRAINING_DUE_SOON_DAYS`; a completion of a course
    without a validity (valid_until empty) never expires; no completion is `never`.
    """
    latest_state = _latest_completions().annotate(
        row_state=Case(
            When(valid_until__isnull=True, then=Value(State.CURRENT)),
            When(valid_until__lte=now, then=Value(State.OVERDUE)),
            When(valid_until__lte=now + due_soon_window(), then=Value(State.DUE_SOON)),
            default=Value(State.CURRENT),
            output_field=CharField(),
        )
    )
    return Coalesce(
        Subquery(latest_state.values("row_state")[:1], output_field=CharField()),
        Value(State.NEVER),
        output_field=CharField(),
    )


def compliance(*, now=None, user=None, course=None, group=None, state=None):
    """One row per active person and course required of a group they are in.

    Rows come from group memberships joined to the courses their group requires;
    a person in two groups that require the same course is counted once (the
    membership with the lowest group id carries the row). Each row is annotated
    in the database with the person's latest completion, its expiry and the
    state, so a page of rows is one query whatever the number of people.

    Filters: `user` (id or user), `course` (id, course, or a list of them), `group` (group: its
    members and the courses it requires), `state` (one of State.ALL or a list).
    """
    now = now or timezone.now()
    earlier_group = Membership.objects.filter(
        user_id=OuterRef("user_id"),
        group_id__lt=OuterRef("group_id"),
        group__required_courses=OuterRef("course_id"),
    )
    rows = (
        Membership.objects.filter(user__is_active=True, group__required_courses__isnull=False)
        .annotate(course_id=F("group__required_courses"))
        .filter(~Exists(earlier_group))
    )
    if user is not None:
        rows = rows.filter(user_id=getattr(user, "pk", user))
    if isinstance(course, list | tuple | set):
        rows = rows.filter(course_id__in=[getattr(c, "pk", c) for c in course])
    elif course is not None:
        rows = rows.filter(course_id=getattr(course, "pk", course))
    if group is not None:
        group_id = getattr(group, "pk", group)
        rows = rows.filter(
            Exists(Membership.objects.filter(user_id=OuterRef("user_id"), group_id=group_id)),
            Exists(
                Course.required_for.through.objects.filter(
                    course_id=OuterRef("course_id"), group_id=group_id
                )
            ),
        )
    rows = rows.annotate(
        state=state_expression(now),
        last_completed_at=Subquery(_latest_completions().values("completed_at")[:1]),
        valid_until=Subquery(_latest_completions().values("valid_until")[:1]),
    )
    if state:
        states = [state] if isinstance(state, str) else list(state)
        rows = rows.filter(state__in=states)
    return rows


ROW_FIELDS = (
    "user_id",
    "course_id",
    "state",
    "last_completed_at",
    "valid_until",
    "username",
    "first_name",
    "last_name",
    "email",
    "course_title",
    "course_kind",
)


def compliance_rows(**filters):
    """Compliance as plain dicts (ROW_FIELDS) ordered by person then course: one query per page."""
    return (
        compliance(**filters)
        .annotate(
            username=F("user__username"),
            first_name=F("user__first_name"),
            last_name=F("user__last_name"),
            email=F("user__email"),
            course_title=F("group__required_courses__title"),
            course_kind=F("group__required_courses__kind"),
        )
        .order_by(
            "user__last_name",
            "user__first_name",
            "user__username",
            "user_id",
            "course_title",
            "course_id",
        )
        .values(*ROW_FIELDS)
    )


def compliance_counts(**filters):
    """{course_id: {state: n, ..., "total": n}} for every required course, in one query.

    Grouped by (course, state) so the state is computed once per row; pivoted here.
    """
    filters.pop("state", None)
    grouped = compliance(**filters).order_by().values("course_id", "state").annotate(n=Count("pk"))
    counts = {}
    for row in grouped:
        entry = counts.setdefault(row["course_id"], {"total": 0, **dict.fromkeys(State.ALL, 0)})
        entry[row["state"]] += row["n"]
        entry["total"] += row["n"]
    return counts


def course_counts(**filters):
    """Per required course, in title order: the course and its state counts (two queries)."""
    counts = compliance_counts(**filters)
    courses = Course.objects.filter(pk__in=list(counts)).order_by("title", "pk")
    return [{"course": course, **counts[course.pk]} for course in courses]


def people_to_remind(*, now=None):
    """Compliance rows that call for a reminder (due soon, overdue), grouped by person in order."""
    return (
        compliance_rows(now=now, state=State.REMIND)
        .exclude(user__email="")
        .order_by("user_id", "course_title", "course_id")
    )

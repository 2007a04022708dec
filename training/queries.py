"""Read side of training: visible records, and per-person compliance computed in the database."""

import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
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


def _id_list(value):
    values = value if isinstance(value, list | tuple | set) else [value]
    return [int(getattr(v, "pk", v)) for v in values]


def compliance_count(*, now=None, user=None, course=None, group=None, state=None):
    """How many rows `compliance(**filters)` has, in one query that does not build them.

    Counting the rows themselves joins every person to every course they need and drops the
    duplicates (500,000 pairs for 10,000 people × 50 courses: half a second). A person's rows
    are the distinct courses their groups require, so this counts per membership instead:
    someone whose first course-requiring group is this one has all its courses; only people in
    several such groups (few) have their pairs de-duplicated one by one. With a `state` filter
    every row's state must be computed anyway: that is the rows' own count.
    """
    if state:
        return compliance(now=now, user=user, course=course, group=group, state=state).count()
    m_table = Membership._meta.db_table
    u_table = User._meta.db_table
    r_table = Course.required_for.through._meta.db_table

    def course_filter(alias):
        if course is None:
            return "", []
        ids = _id_list(course)
        if not ids:
            return " AND 1 = 0", []
        return f" AND {alias}.course_id IN ({', '.join(['%s'] * len(ids))})", ids

    user_sql, user_params = ("", [])
    if user is not None:
        user_sql, user_params = " AND m.user_id = %s", [int(getattr(user, "pk", user))]
    active = f"JOIN {u_table} u ON u.id = m.user_id WHERE u.is_active = %s{user_sql}"
    if group is not None:
        k_sql, k_params = course_filter("r")
        sql = (
            f"SELECT (SELECT COUNT(*) FROM {m_table} m {active} AND m.group_id = %s)"
            f" * (SELECT COUNT(*) FROM {r_table} r WHERE r.group_id = %s{k_sql})"
        )
        group_id = int(getattr(group, "pk", group))
        params = [True, *user_params, group_id, group_id, *k_params]
    else:
        cf = {alias: course_filter(alias) for alias in ("k", "r", "q", "r2")}
        # Groups that require a course (of the filter): a membership elsewhere adds no rows.
        requiring = f"SELECT q.group_id FROM {r_table} q WHERE 1 = 1{cf['q'][0]}"
        earlier = (
            f"EXISTS (SELECT 1 FROM {m_table} e WHERE e.user_id = m.user_id"
            f" AND e.group_id < m.group_id AND e.group_id IN ({requiring}))"
        )
        sql = f"""SELECT COALESCE((
              SELECT SUM(per.n * (SELECT COUNT(*) FROM {r_table} k
                                  WHERE k.group_id = per.group_id{cf["k"][0]}))
              FROM (SELECT m.group_id AS group_id, COUNT(*) AS n FROM {m_table} m {active}
                    AND m.group_id IN ({requiring}) AND NOT {earlier}
                    GROUP BY m.group_id) per
            ), 0) + (
              SELECT COUNT(*) FROM {m_table} m
              JOIN {r_table} r ON r.group_id = m.group_id{cf["r"][0]} {active}
              AND {earlier}
              AND NOT EXISTS (SELECT 1 FROM {m_table} e
                              JOIN {r_table} r2 ON r2.group_id = e.group_id
                              WHERE e.user_id = m.user_id AND e.group_id < m.group_id
                              AND r2.course_id = r.course_id)
            )"""
        q_params = cf["q"][1]
        params = [
            *cf["k"][1],
            True,
            *user_params,
            *q_params,
            *q_params,
            *cf["r"][1],
            True,
            *user_params,
            *q_params,
        ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.fetchone()[0] or 0)


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

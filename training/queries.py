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

from core.people import current_staff

from .models import Course, ExerciseEvaluation, Record, Session

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


# A compliance row's state is decided once, in the database (`state_expression`); faces ask
# these rather than comparing state names themselves.


def is_current(row):
    return row["state"] == State.CURRENT


def is_due_soon(row):
    return row["state"] == State.DUE_SOON


def is_overdue(row):
    return row["state"] == State.OVERDUE


def is_never_done(row):
    return row["state"] == State.NEVER


def shown_rows(rows):
    """Compliance rows as pages show them: each with `is_current`, `is_due_soon`, `is_overdue`
    and `is_never_done` (templates cannot call the predicates)."""
    return [
        {
            **row,
            "is_current": is_current(row),
            "is_due_soon": is_due_soon(row),
            "is_overdue": is_overdue(row),
            "is_never_done": is_never_done(row),
        }
        for row in rows
    ]


def takes_records(session, status):
    """Whether `session` takes a record in `status`: a cancelled one only excusals."""
    return session.status != Session.Status.CANCELLED or status == Record.Status.EXCUSED


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
        Membership.objects.filter(current_staff("user__"), group__required_courses__isnull=False)
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
    are the distinct courses (of the filter) their groups require, so this sums, over the
    groups that require some, courses × members (members counted in the group index, never
    joined to `auth_user`), and takes off two corrections, each driven from a small set:

    - inactive people: their memberships × their groups' courses, found from the few inactive
      people (a partial index on `auth_user`, migration `training.0003`);
    - a course that several of a person's groups require: groups are ranked by (members, id)
      and a (group, course) row is a duplicate when a higher-ranked group of the same person
      requires the course too. Only (group, course) pairs whose course a higher-ranked group
      requires are looked at (none when no two groups share a course), and only for those are
      the group's active members, the smaller group's, probed one by one through their own
      memberships: that part costs members of the smaller group × shared courses.

    With `group`, rows are its active members × the courses (of the filter) it requires: the
    same sum over that one group, which has no duplicates. With a `state` filter every row's
    state must be computed anyway: that is the rows' own count.
    """
    if state:
        return compliance(now=now, user=user, course=course, group=group, state=state).count()
    sql, params = compliance_count_sql(user=user, course=course, group=group)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.fetchone()[0] or 0)


def compliance_count_sql(*, user=None, course=None, group=None):
    """compliance_count's one query, as (sql, params), for the filters other than `state`."""
    m_table = Membership._meta.db_table
    u_table = User._meta.db_table
    r_table = Course.required_for.through._meta.db_table

    # Which (group, course) pairs count, and whose memberships.
    pair_sql, pair_params = "", []
    if course is not None:
        ids = _id_list(course)
        pair_sql += f" AND r.course_id IN ({', '.join(['%s'] * len(ids))})" if ids else " AND 1 = 0"
        pair_params += ids
    if group is not None:
        pair_sql += " AND r.group_id = %s"
        pair_params.append(int(getattr(group, "pk", group)))
    user_sql, user_params = "", []
    if user is not None:
        user_sql, user_params = " AND m.user_id = %s", [int(getattr(user, "pk", user))]

    # k: the courses (of the filter) each group requires; g: and how many members (of the
    # filter) it has, counted in the group index. Groups are ranked by (members, id).
    sql = f"""WITH k AS (SELECT r.group_id, COUNT(*) AS n FROM {r_table} r
                       WHERE 1 = 1{pair_sql} GROUP BY r.group_id),
             g AS (SELECT k.group_id, k.n, (SELECT COUNT(*) FROM {m_table} m
                                            WHERE m.group_id = k.group_id{user_sql}) AS size
                   FROM k)
        SELECT COALESCE((SELECT SUM(g.n * g.size) FROM g), 0)
             - COALESCE((SELECT SUM((SELECT k.n FROM k WHERE k.group_id = m.group_id))
                         FROM {u_table} u JOIN {m_table} m ON m.user_id = u.id
                         WHERE NOT u.is_active{user_sql}), 0)"""
    params = [*pair_params, *user_params, *user_params]
    if group is None:
        # A person's (group, course) row that one of their higher-ranked groups also requires
        # is counted twice. The outer query walks (group, course) pairs with a course shared
        # with a higher-ranked group (none when no two groups share a course), and only for
        # those the subquery walks the group's members: the smaller group of the two.
        above = "({a}.size > g.size OR ({a}.size = g.size AND {a}.group_id > g.group_id))"
        sql += f"""
             - COALESCE((SELECT SUM((
                    SELECT COUNT(*) FROM {m_table} m WHERE m.group_id = g.group_id{user_sql}
                    AND NOT EXISTS (SELECT 1 FROM {u_table} u
                                    WHERE u.id = m.user_id AND NOT u.is_active)
                    AND (SELECT COUNT(*) FROM {m_table} e JOIN g g3 ON g3.group_id = e.group_id
                         JOIN {r_table} r3 ON r3.group_id = e.group_id
                         AND r3.course_id = r.course_id
                         WHERE e.user_id = m.user_id AND {above.format(a="g3")}) > 0))
                 FROM g JOIN {r_table} r ON r.group_id = g.group_id
                 WHERE 1 = 1{pair_sql}
                 AND EXISTS (SELECT 1 FROM {r_table} r2 JOIN g g2 ON g2.group_id = r2.group_id
                             WHERE r2.course_id = r.course_id AND {above.format(a="g2")})), 0)"""
        params += [*user_params, *pair_params]
    return sql, params


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


def evaluations_list():
    """Exercise evaluations with their session, course, objectives and improvements (fixed queries a page)."""
    return ExerciseEvaluation.objects.select_related("session", "session__course").prefetch_related(
        "objective_results", "improvement_actions"
    )

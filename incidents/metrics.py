"""Incident metrics (product.md §1, issue 14 item 6): the one read behind the dashboard, its
CSV export and `GET /api/v1/metrics/incidents/`.

What is counted
    The incidents the reader may see in full (`queries.fully_visible_incidents`), reported in
    [since, until). A coordinator outside a confidential incident's team does not count it,
    not even as an anonymous "+1": a count by category or month over a handful of
    incidents would tell them one exists. The drill-down links land on the incident list,
    which applies the same rule, so a tile's number and its list always agree.

Mean times (MTTA, MTTC, MTTR)
    From the report (`reported_at`) to the phase's time (`acknowledged_at`, `contained_at`,
    `recovered_at`), averaged over the incidents that reached the phase, in seconds; the
    words ("5.5 h", "3 days") come from `core.durations.duration_words`.

Targets met
    Per phase, the share of incidents that reached it within their priority's response
    target (`ResponseTarget`), of those that reached it and have a target.

Breakdowns
    By month reported (months in the reader's zone), by category ("Unclassified" for none),
    by priority, and by the plan version in force when the incident was reported
    (`Incident.plan_version`, set at the report or at triage from the category's plan, see
    `services.incident._plan_version`); incidents whose category has no plan form the "No
    plan in force" row. Each row carries the same measures as the totals.

Cost
    A fixed number of queries whatever the number of incidents (every figure is aggregated
    in the database): the targets, the totals, one per breakdown, the escalations and the
    overdue actions (`tests/incidents/test_metrics.py` counts them at two sizes).
"""

import datetime

from django.db.models import (
    Avg,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    IntegerField,
    Q,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone

from core.durations import duration_words

from .models import OPEN_STATUSES, Action, Escalation
from .queries import (
    AT_RISK,
    BREACHED,
    MET,
    MISSED,
    TARGET_PHASES,
    IncidentSource,
    fully_ready,
    fully_visible_incidents,
    obligation_state_filter,
    obligation_states,
    past_due_actions,
    reopened,
    targets_by_priority,
)

PRIORITIES = ("P1", "P2", "P3", "P4")
UNCLASSIFIED = "Unclassified"
NO_PLAN = "No plan in force"
PHASES = tuple(name for name, _, _ in TARGET_PHASES)  # acknowledge, contain, recover


def _met_conditions(targets):
    """Per target phase, a Q matching incidents that reached it within their priority's target."""
    conditions = {}
    for name, field, minutes in TARGET_PHASES:
        condition = Q(pk__in=[])
        for priority, target in targets.items():
            deadline = F("reported_at") + datetime.timedelta(minutes=getattr(target, minutes))
            condition |= Q(
                priority=priority, **{f"{field}__isnull": False, f"{field}__lte": deadline}
            )
        conditions[name] = condition
    return conditions


def _measures(targets):
    """The aggregates every row (and the totals) carries, as keyword arguments of
    `aggregate` / `annotate`."""
    met = _met_conditions(targets)
    with_target = Q(priority__in=list(targets))
    measures = {
        "n": Count("pk"),
        "n_open": Count("pk", filter=Q(status__in=OPEN_STATUSES)),
    }
    for name, field, _ in TARGET_PHASES:
        measures[f"{name}_mean"] = Avg(
            ExpressionWrapper(F(field) - F("reported_at"), output_field=DurationField())
        )
        measures[f"{name}_done"] = Count(
            "pk", filter=Q(**{f"{field}__isnull": False}) & with_target
        )
        measures[f"{name}_met"] = Count("pk", filter=met[name])
    return measures


def _share(met, done):
    return None if not done else round(100 * met / done, 1)


def _seconds(value):
    """A mean duration from the database (a timedelta) in whole seconds."""
    return None if value is None else round(value.total_seconds())


def _row(key, label, values):
    """One row of a breakdown (or the totals) as the API and the dashboard read it."""
    row = {"key": key, "label": label, "incidents": values["n"], "open": values["n_open"]}
    for name in PHASES:
        seconds = _seconds(values[f"{name}_mean"])
        row[f"mean_seconds_to_{name}"] = seconds
        row[f"mean_time_to_{name}"] = duration_words(seconds)
    row["targets_met_percent"] = {
        name: _share(values[f"{name}_met"], values[f"{name}_done"]) for name in PHASES
    }
    return row


def _grouped(qs, measures, *group, order):
    return qs.order_by().values(*group).annotate(**measures).order_by(*order)


def _by_month(qs, measures, zone):
    rows = _grouped(
        qs.annotate(month=TruncMonth("reported_at", tzinfo=zone)),
        measures,
        "month",
        order=["month"],
    )
    out = []
    for values in rows:
        month = values["month"]
        if isinstance(month, datetime.datetime):
            month = timezone.localtime(month, zone) if timezone.is_aware(month) else month
            month = month.date()
        out.append(_row(month.strftime("%Y-%m"), month.strftime("%b %Y"), values))
    return out


def _by_category(qs, measures):
    rows = _grouped(
        qs, measures, "category_id", "category__name", order=["-n", "category__name", "category_id"]
    )
    return [
        _row(values["category_id"], values["category__name"] or UNCLASSIFIED, values)
        for values in rows
    ]


def _by_priority(qs, measures):
    rows = {values["priority"]: values for values in _grouped(qs, measures, "priority", order=[])}
    empty = {name: 0 for name in measures} | {f"{name}_mean": None for name in PHASES}
    return [_row(priority, priority, rows.get(priority, empty)) for priority in PRIORITIES]


def _by_plan_version(qs, measures):
    """By the plan version in force when reported: each plan's versions in order, so version 3
    reads beside version 2; then the incidents with none."""
    rows = _grouped(
        qs,
        measures,
        "plan_version_id",
        "plan_version__plan__code",
        "plan_version__plan__title",
        "plan_version__number",
        order=["plan_version__plan__code", "plan_version__number"],
    )
    with_plan, without = [], []
    for values in rows:
        if values["plan_version_id"] is None:
            without.append(_row(None, NO_PLAN, values))
            continue
        label = f"{values['plan_version__plan__code']} v{values['plan_version__number']}"
        row = _row(values["plan_version_id"], label, values)
        row["plan"] = values["plan_version__plan__title"]
        row["version"] = values["plan_version__number"]
        with_plan.append(row)
    for row in without:
        row["plan"], row["version"] = None, None
    return with_plan + without


# -- obligations ---------------------------------------------------------------


def _obligations_in(state):
    """Per incident: how many of its obligations are in `state` (a correlated subquery over
    queries.obligation_states, the one rule of the states)."""
    rows = (
        obligation_states(IncidentSource())
        .filter(state=state)
        .annotate(one=Value(1))
        .values("one")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(rows[:1], output_field=IntegerField()), 0)


def obligations_met(qs):
    """The notification obligations of the incidents `qs` that fell due: met (sent by the
    deadline), missed (sent late) and breached (past it, unsent); `met_percent` of those due.
    Pending, at-risk and not-applicable obligations are not yet (or never) due. One query."""
    counts = qs.aggregate(
        met=Sum(_obligations_in(MET)),
        missed=Sum(_obligations_in(MISSED)),
        breached=Sum(_obligations_in(BREACHED)),
        incidents_breached=Count("pk", filter=obligation_state_filter(BREACHED)),
        incidents_at_risk=Count("pk", filter=obligation_state_filter(AT_RISK)),
    )
    met, missed, breached = (counts[k] or 0 for k in ("met", "missed", "breached"))
    due = met + missed + breached
    return {
        "due": due,
        "met": met,
        "missed": missed,
        "breached": breached,
        "met_percent": None if not due else round(100 * met / due, 1),
        # Incidents (not obligations) with one breached, or at risk, now: the lists filter these.
        "incidents_breached": counts["incidents_breached"],
        "incidents_at_risk": counts["incidents_at_risk"],
    }


def readiness(qs):
    """Incidents handled by a team fully current on its plan (queries.fully_ready: everyone
    who took a part had signed the plan version in force and was current on its training),
    of the incidents with any readiness recorded. One query."""
    counts = qs.aggregate(
        recorded=Count("pk", filter=Q(readiness__isnull=False), distinct=True),
        ready=Count("pk", filter=Q(pk__in=fully_ready(qs.model.objects.all()).values("pk"))),
    )
    recorded, ready = counts["recorded"], counts["ready"]
    return {
        "recorded": recorded,
        "fully_ready": ready,
        "fully_ready_percent": None if not recorded else round(100 * ready / recorded, 1),
    }


# -- the read ------------------------------------------------------------------


def incident_metrics(user, since=None, until=None, zone=None):
    """Every figure and breakdown of the dashboard over the incidents `user` may see in full,
    reported in [since, until) (either may be None), months in `zone` (default: the active
    zone). A fixed number of queries; see the module docstring for what each figure means."""
    zone = zone or timezone.get_current_timezone()
    qs = fully_visible_incidents(user)
    if since:
        qs = qs.filter(reported_at__gte=since)
    if until:
        qs = qs.filter(reported_at__lt=until)
    targets = targets_by_priority()
    measures = _measures(targets)
    totals = qs.aggregate(
        **measures,
        late=Count("pk", filter=Q(is_late=True)),
        # Reports waiting for triage with no kind yet (the by-category row with no name
        # counts those cancelled before triage too).
        unclassified=Count("pk", filter=Q(category__isnull=True, status__in=OPEN_STATUSES)),
        reopened=Count("pk", filter=reopened()),
    )
    ids = qs.order_by().values("pk")
    escalations = Escalation.objects.filter(incident__in=ids).aggregate(
        total=Count("pk"), automatic=Count("pk", filter=Q(automatic=True))
    )
    overdue_actions = (
        Action.objects.filter(incident__in=ids)
        .filter(past_due_actions(timezone.localdate(timezone=zone)))
        .count()
    )
    breakdowns = {
        "by_month": _by_month(qs, measures, zone),
        "by_category": _by_category(qs, measures),
        "by_priority": _by_priority(qs, measures),
        "by_plan_version": _by_plan_version(qs, measures),
    }
    overall = _row(None, "All incidents", totals)
    result = {
        "since": since,
        "until": until,
        "time_zone": str(zone),
        "incidents": totals["n"],
        "open": totals["n_open"],
        "unclassified": totals["unclassified"],
        # Kept for clients of the first version of this endpoint; new ones read the seconds.
        **{
            f"mean_minutes_to_{name}": None
            if overall[f"mean_seconds_to_{name}"] is None
            else round(overall[f"mean_seconds_to_{name}"] / 60, 1)
            for name in PHASES
        },
        **{f"mean_seconds_to_{name}": overall[f"mean_seconds_to_{name}"] for name in PHASES},
        **{f"mean_time_to_{name}": overall[f"mean_time_to_{name}"] for name in PHASES},
        "targets_met_percent": overall["targets_met_percent"],
        # The first version's count-only breakdowns, from the rows below (no extra query).
        "by_month": [
            {"month": f"{row['key']}-01", "count": row["incidents"]}
            for row in breakdowns["by_month"]
        ],
        "by_category": [
            {"category": None if row["key"] is None else row["label"], "count": row["incidents"]}
            for row in breakdowns["by_category"]
        ],
        "by_priority": {row["key"]: row["incidents"] for row in breakdowns["by_priority"]},
        "late_reports": totals["late"],
        "escalations": escalations["total"],
        "automatic_escalations": escalations["automatic"],
        "reopened": totals["reopened"],
        "open_actions_past_due": overdue_actions,
        "obligations_met": obligations_met(qs),
        "readiness": readiness(qs),
        "breakdowns": breakdowns,
    }
    return result

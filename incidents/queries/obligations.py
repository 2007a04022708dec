"""Notification obligations: each clock's anchor, due time and state, in SQL."""

import datetime

from django.conf import settings
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Count,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    IntegerField,
    Min,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.expressions import Precompiled, Reused

from ..models import (
    OPEN_STATUSES,
    Escalation,
    Incident,
    Obligation,
    ObligationSubmission,
    ObligationWaiver,
    Status,
)
from . import AT_RISK, BREACHED, MET, MISSED, PENDING, fully_visible_incidents

# -- notification obligations ------------------------------------------------------
#
# One rule, in SQL: `obligation_states(source)` annotates the obligations of one incident (or,
# correlated, of each incident of a list) with their anchor, due time and state, so a page,
# the API, a list filter, the dashboard and the escalation timer read the same thing in a
# fixed number of queries (docs/incidents.md §Notification obligations).

NOT_APPLICABLE = "not_applicable"
OBLIGATION_STATES = (PENDING, AT_RISK, BREACHED, MET, MISSED, NOT_APPLICABLE)
OBLIGATION_STATE_LABELS = {
    PENDING: "pending",
    AT_RISK: "at risk",
    BREACHED: "breached",
    MET: "met",
    MISSED: "missed",
    NOT_APPLICABLE: "not applicable",
}
# The state a list shows for an incident's obligations: the worst of them.
OBLIGATION_STATE_RANK = (BREACHED, AT_RISK, PENDING, MISSED, MET, NOT_APPLICABLE)
# For the "at risk" window only, a month counts as 30 days.
HOURS_PER_MONTH_FOR_RISK = 720


def add_deadline(moment, months, seconds):
    """`moment` plus calendar `months` (clamped to the month's last day: 31 January + 1 month
    is 28 or 29 February, as PostgreSQL counts) plus `seconds`. The Python twin of
    `DeadlineAdd`, registered as an SQLite function (incidents.receivers)."""
    import calendar

    if moment is None or months is None or seconds is None:
        return None
    total = moment.month - 1 + int(months)
    year, month = moment.year + total // 12, total % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day) + datetime.timedelta(
        seconds=float(seconds)
    )


def sqlite_add_deadline(value, months, seconds):
    """`add_deadline` over SQLite's stored text (naive UTC, as Django writes it)."""
    if value is None or months is None or seconds is None:
        return None
    moment = datetime.datetime.fromisoformat(str(value)).replace(tzinfo=None)
    return str(add_deadline(moment, months, seconds))


class DeadlineAdd(Func):
    """moment + months (calendar) + seconds, in the database."""

    output_field = DateTimeField()
    function = "incidents_add_deadline"  # SQLite: registered on each connection

    def as_postgresql(self, compiler, connection, **extra):
        moment, months, seconds = (compiler.compile(e) for e in self.get_source_expressions())
        sql = f"({moment[0]} + make_interval(months => ({months[0]})::integer, secs => ({seconds[0]})::double precision))"
        return sql, (*moment[1], *months[1], *seconds[1])


class IncidentSource:
    """Where `obligation_states` reads the incident: one loaded incident (constants), or the
    row of the incident list the subquery is correlated with (OuterRef)."""

    def __init__(self, incident=None):
        self.incident = incident

    def field(self, name, depth=1, output_field=None):
        if self.incident is not None:
            value = getattr(self.incident, "pk" if name == "pk" else name)
            return Value(value, output_field=output_field or DateTimeField())
        ref = name
        for _ in range(depth):
            ref = OuterRef(ref)
        return ExpressionWrapper(ref, output_field=output_field or DateTimeField())

    def aware(self, depth=1):
        if self.incident is not None:
            return Value(aware_at(self.incident), output_field=DateTimeField())
        return Coalesce(
            self.field("aware_at", depth),
            self.field("reported_at", depth),
            output_field=DateTimeField(),
        )


def aware_at(incident):
    """When the organisation became aware of `incident`: its `aware_at`, else its report time."""
    return incident.aware_at or incident.reported_at


def obligation_states(source, now=None):
    """The active obligations of the source incident's category, each annotated with
    `anchor_at`, `due_at`, `risk_at`, `submitted_at`, `waived` and `state`.

    - the clock starts at the anchor: awareness (`aware_at`, else the report time), the
      classification as major (`classified_major_at`), or the submission of the previous
      deliverable; it runs `deadline_months` calendar months plus `deadline_hours`;
    - with `cap_hours`, it is due at the latest that long after awareness (and, while the
      anchor has not happened, at that cap); with no anchor and no cap there is no due time
      yet (pending);
    - met: submitted by the due time; missed: submitted after it; breached: past it,
      unsubmitted; at risk: unsubmitted with less than (1 − INCIDENT_TARGET_AT_RISK_RATIO) of
      its time left (a month counted as 30 days); not applicable: a coordinator said so, with
      a reason (`ObligationWaiver`), or the incident was cancelled (not an incident).
    """

    now = now or timezone.now()
    if source.incident is not None:
        qs = Obligation.objects.filter(category_id=source.incident.category_id)
        incident_pk = Value(source.incident.pk)
        status = Value(source.incident.status, output_field=CharField())
    else:
        qs = Obligation.objects.filter(category_id=OuterRef("category_id"))
        incident_pk = OuterRef(OuterRef("pk"))
        status = source.field("status", output_field=CharField())
    # One submission per obligation and incident (a unique constraint): no ordering to join for.
    submissions = ObligationSubmission.objects.filter(incident_id=incident_pk).order_by()
    risk_share = max(0.0, 1.0 - settings.INCIDENT_TARGET_AT_RISK_RATIO)
    nominal_hours = F("deadline_hours") + F("deadline_months") * HOURS_PER_MONTH_FOR_RISK
    qs = qs.filter(active=True).annotate(
        submitted_at=Subquery(
            submissions.filter(obligation_id=OuterRef("pk")).values("submitted_at")[:1]
        ),
        previous_at=Subquery(
            submissions.filter(obligation_id=OuterRef("previous_id")).values("submitted_at")[:1]
        ),
        waived=Exists(
            ObligationWaiver.objects.filter(incident_id=incident_pk, obligation_id=OuterRef("pk"))
        ),
        aware=source.aware(depth=1),
        classified=source.field("classified_major_at"),
        incident_status=status,
    )
    qs = qs.annotate(
        anchor_at=Case(
            When(anchor="aware", then=F("aware")),
            When(anchor="classified", then=F("classified")),
            When(anchor="previous", then=F("previous_at")),
            default=Value(None, output_field=DateTimeField()),
            output_field=DateTimeField(),
        ),
        cap_at=DeadlineAdd(F("aware"), Value(0), F("cap_hours") * 3600),
    )
    qs = qs.annotate(
        nominal_due=DeadlineAdd(F("anchor_at"), F("deadline_months"), F("deadline_hours") * 3600),
    )
    qs = qs.annotate(
        due_at=Reused(
            "CASE WHEN {cap_hours} IS NULL THEN {nominal} WHEN {anchor} IS NULL THEN {cap} "
            "WHEN {nominal} <= {cap} THEN {nominal} ELSE {cap} END",
            DateTimeField(),
            cap_hours=F("cap_hours"),
            nominal=F("nominal_due"),
            anchor=F("anchor_at"),
            cap=F("cap_at"),
        ),
        risk_seconds=ExpressionWrapper(
            Case(
                When(cap_hours__isnull=False, cap_hours__lt=nominal_hours, then=F("cap_hours")),
                default=nominal_hours,
            )
            * Value(3600.0 * risk_share),
            output_field=FloatField(),
        ),
    )
    qs = qs.annotate(risk_at=DeadlineAdd(F("due_at"), Value(0), -F("risk_seconds")))
    # First match wins: waived or cancelled, then submitted (met by the due time, else
    # missed), then no due time yet (pending), past due (breached), inside the risk window.
    state = Reused(
        "CASE WHEN {waived} THEN {not_applicable} "
        "WHEN {status} = {cancelled} THEN {not_applicable} "
        "WHEN {submitted} IS NOT NULL AND {due} IS NULL THEN {met} "
        "WHEN {submitted} IS NOT NULL AND {submitted} <= {due} THEN {met} "
        "WHEN {submitted} IS NOT NULL THEN {missed} "
        "WHEN {due} IS NULL THEN {pending} "
        "WHEN {due} < {now} THEN {breached} "
        "WHEN {risk} <= {now} THEN {at_risk} "
        "ELSE {pending} END",
        CharField(),
        waived=F("waived"),
        status=F("incident_status"),
        submitted=F("submitted_at"),
        due=F("due_at"),
        risk=F("risk_at"),
        now=Value(now, output_field=DateTimeField()),
        cancelled=Value(Status.CANCELLED, output_field=CharField()),
        **{name: Value(name, output_field=CharField()) for name in OBLIGATION_STATES},
    )
    return qs.annotate(state=state).order_by("id")


def incident_obligations(incident, now=None):
    """The obligations of one incident with their states (`obligation_states`), one query;
    the submission and waiver themselves come from `obligation_records`."""
    if incident.category_id is None:
        return Obligation.objects.none()
    return obligation_states(IncidentSource(incident), now=now).select_related("previous")


def obligation_records(incident):
    """{obligation id: submission} and {obligation id: waiver} of one incident (two queries)."""

    submissions = {
        s.obligation_id: s
        for s in ObligationSubmission.objects.filter(incident=incident).select_related(
            "submitted_by"
        )
    }
    waivers = {
        w.obligation_id: w
        for w in ObligationWaiver.objects.filter(incident=incident).select_related("decided_by")
    }
    return submissions, waivers


def with_worst_obligation(queryset, now=None):
    """`queryset` (incidents) annotated with `obligation_state`: the worst state of its
    obligations (OBLIGATION_STATE_RANK), None without any. One correlated subquery in the
    list's own query, compiled once per process (`Precompiled`): the lowest rank of its
    obligations' states, named again outside (an aggregate, not ORDER BY … LIMIT 1: SQLite
    cannot reach the incident from the ORDER BY of a subquery two levels down)."""
    worst = Precompiled(
        ("worst obligation state", settings.INCIDENT_TARGET_AT_RISK_RATIO),
        _worst_state,
        Incident,
        now or timezone.now(),
        CharField(),
    )
    return queryset.annotate(obligation_state=worst)


def _worst_state(now):
    ranked = {f"s{i}": Value(name) for i, name in enumerate(OBLIGATION_STATE_RANK)}
    whens = " ".join(f"WHEN {{s{i}}} THEN {i}" for i in range(len(OBLIGATION_STATE_RANK)))
    rank = Reused(f"CASE {{state}} {whens} END", IntegerField(), state=F("state"), **ranked)
    lowest = (
        obligation_states(IncidentSource(), now=now)
        .order_by()
        .values("category_id")
        .annotate(lowest=Min(rank))
        .values("lowest")
    )
    names = " ".join(f"WHEN {i} THEN {{s{i}}}" for i in range(len(OBLIGATION_STATE_RANK)))
    return Reused(
        f"CASE {{lowest}} {names} END",
        CharField(),
        lowest=Subquery(lowest, output_field=IntegerField()),
        **ranked,
    )


def obligation_state_filter(state, now=None):
    """A Q matching incidents with at least one obligation in `state` (compiled once per
    process and state: `Precompiled`)."""
    if state not in OBLIGATION_STATES:
        return Q(pk__in=[])
    return Q(
        Precompiled(
            ("obligation in state", state, settings.INCIDENT_TARGET_AT_RISK_RATIO),
            lambda now: Exists(obligation_states(IncidentSource(), now=now).filter(state=state)),
            Incident,
            now or timezone.now(),
            BooleanField(),
        )
    )


def obligation_counts(user, now=None):
    """How many incidents `user` sees in full have an obligation breached, or at risk (one query)."""
    qs = fully_visible_incidents(user)
    return qs.aggregate(
        breached=Count("pk", filter=obligation_state_filter(BREACHED, now)),
        at_risk=Count("pk", filter=obligation_state_filter(AT_RISK, now)),
    )


def breached_obligations(now=None):
    """(incident id, obligation id) pairs: open incidents with an obligation breached and not
    yet escalated for it automatically (the timer's work)."""
    states = obligation_states(IncidentSource(), now=now).filter(state=BREACHED)
    incidents = Incident.objects.filter(
        Exists(states), status__in=OPEN_STATUSES, category__isnull=False
    ).order_by("reported_at", "pk")
    pairs = []
    for incident in incidents:
        done = set(
            Escalation.objects.filter(
                incident=incident, automatic=True, obligation__isnull=False
            ).values_list("obligation_id", flat=True)
        )
        for obligation in incident_obligations(incident, now=now):
            if obligation.state == BREACHED and obligation.pk not in done:
                pairs.append((incident.pk, obligation.pk))
    return pairs

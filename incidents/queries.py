"""Read side of incidents: who may see what, response-target states, escalation candidates (metrics: metrics.py)."""

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.db import connections
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
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.history_diff import NO_MASK, Mask
from core.workflow import next_statuses

from .models import (
    OPEN_STATUSES,
    Action,
    Attachment,
    Category,
    Escalation,
    EscalationRule,
    Incident,
    Readiness,
    ResponseTarget,
    Status,
    TeamMember,
)

SEE_ALL_CONFIDENTIAL = "incidents.see_all_confidential"
SEE_REPORTER = "incidents.see_reporter_identity"
TRIAGE_UNASSIGNED = "incidents.triage_unassigned"  # the Incident intake role


def sees_everything(user):
    return user.is_superuser or user.has_perm(SEE_ALL_CONFIDENTIAL)


def sees_reporter_identity(user):
    return user.is_superuser or user.has_perm(SEE_REPORTER)


def triages_unassigned(user):
    """Whether `user` is on the intake: sees every incident that has no manager yet."""
    return user.has_perm(TRIAGE_UNASSIGNED)


def history_mask(user, incident):
    """What `user` may not see in `incident`'s own history: the one rule for the admin's
    history pages and the API's `…/history/`. An anonymous reporter's identity is hidden
    from those who may not see it: the reporter field's values, and the reporter as the
    person who made a change (their report, and anything they did on it later)."""
    if incident.anonymous and not sees_reporter_identity(user):
        return Mask(fields=frozenset({"reporter"}), actors=frozenset({incident.reporter_id}))
    return NO_MASK


def _seen_in_full(user):
    """The condition for incidents `user` sees in full: None for all of them, False for none.

    The one rule behind `fully_visible_incidents`, `visible_incidents`, `can_see` (which
    states it row by row) and the list annotation, so admin, API and services agree.
    """
    if not user.is_authenticated:
        return False
    if sees_everything(user):
        return None
    if not user.has_perm("incidents.view_incident"):
        return False
    on_team = Q(incident_manager=user) | Q(
        Exists(TeamMember.objects.filter(incident=OuterRef("pk"), user=user))
    )
    condition = Q(confidential=False) | on_team
    if triages_unassigned(user):
        # Until someone manages it, a report (confidential or not) is the intake's to triage;
        # naming its manager hands it to the team.
        condition |= Q(incident_manager__isnull=True)
    return condition


def fully_visible_incidents(user):
    """The incidents `user` may see in full and work on (their timeline, team, actions, review).

    - Compliance and superusers: all.
    - Coordinators (view permission): every non-confidential incident, and the
      confidential ones whose response team they are on (manager or member).
    - Incident intake (view and `triage_unassigned`): as coordinators, and every
      incident with no incident manager yet, confidential ones included. Once a
      manager is named, a confidential one is its team's again.
    - Everyone else: none. Having reported an incident is not enough: a reporter
      sees what they reported (`visible_incidents`), not the response to it.
    """
    condition = _seen_in_full(user)
    if condition is False:
        return Incident.objects.none()
    return Incident.objects.all() if condition is None else Incident.objects.filter(condition)


def visible_incidents(user):
    """The incidents `user` may know exist: `fully_visible_incidents(user)` and their own reports.

    A reporter keeps seeing their own report even when it is confidential (they
    wrote it), but only what they reported and its status: see `can_see`.
    """
    if not user.is_authenticated:
        return Incident.objects.none()
    condition = _seen_in_full(user)
    if condition is None:
        return Incident.objects.all()
    if condition is False:
        return Incident.objects.filter(reporter=user)
    return Incident.objects.filter(condition | Q(reporter=user))


def can_see(user, incident):
    """Whether `user` may see `incident` in full and work on it (see `fully_visible_incidents`).

    Every write service asks this of its actor, on the locked row, besides the model
    permission; the API and the admin ask it to choose the reporter's reduced view.
    """
    if user is None or not user.is_authenticated:
        return False
    if sees_everything(user):
        return True
    if not user.has_perm("incidents.view_incident"):
        return False
    if not incident.confidential or incident.incident_manager_id == user.pk:
        return True
    if incident.incident_manager_id is None and triages_unassigned(user):
        return True
    return TeamMember.objects.filter(incident_id=incident.pk, user=user).exists()


def allowed_steps(user, incident):
    """The statuses `user` may move `incident` to from here, sorted: the steps its lifecycle
    table offers (Incident.pipeline) to those who may change incidents, none to others.
    The service checks the rest of each step (a reason, the review) when it is taken."""
    if user is None or not user.has_perm("incidents.change_incident"):
        return []
    return sorted(next_statuses(incident))


# The incident page's buttons (the admin workspace) and the permission each needs; the
# services ask the same permissions again (and whether the reader sees the incident).
WORKSPACE_PERMISSIONS = {
    "escalate": "incidents.add_escalation",
    "note": "incidents.add_timelineentry",
    "assign": "incidents.change_incident",
    "team": "incidents.add_teammember",
    "action": "incidents.add_action",
    "communicate": "incidents.add_communication",
    "submit_obligation": "incidents.add_obligationsubmission",
    "waive_obligation": "incidents.add_obligationwaiver",
}


def workspace_steps(user, incident, review=None):
    """The workspace buttons `user` may use on `incident` (besides its phases, `allowed_steps`):
    a set of names of WORKSPACE_PERMISSIONS, and "review" / "complete_review" while its
    post-incident review (`review`, or None before one is written) is a draft."""
    if user is None or not can_see(user, incident):
        return frozenset()
    names = {name for name, perm in WORKSPACE_PERMISSIONS.items() if user.has_perm(perm)}
    if not incident.is_open:
        names.discard("escalate")
    if review is None:
        if user.has_perm("incidents.add_postincidentreview"):
            names.add("review")
    elif not review.is_completed and user.has_perm("incidents.change_postincidentreview"):
        names.update({"review", "complete_review"})
    return frozenset(names)


def escalated_to(user, escalation):
    """Whether `escalation` was addressed to `user` (to them, or to a group they are in): they
    may acknowledge it, as may whoever may change escalations of incidents they see."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if escalation.to_user_id is not None:
        return escalation.to_user_id == user.pk
    return user.groups.filter(pk=escalation.to_group_id).exists()


def reporter_shown(incident, *, sees_reporter):
    """The reporter's id as a reader is shown it: none for an anonymous report, unless the
    reader may see reporters' identities (`sees_reporter_identity`)."""
    return None if incident.anonymous and not sees_reporter else incident.reporter_id


def seen_in_full_annotation(user):
    """`seen_in_full` per row of a list, in the list's own query (no query per row)."""
    condition = _seen_in_full(user)
    if condition is None or condition is False:
        return Value(condition is None, output_field=BooleanField())
    return ExpressionWrapper(condition, output_field=BooleanField())


TALLY_TABLE = (
    "incidents_incident_tally"  # incidents/migrations/0002_confidential_index_and_tally.py
)


def visible_count(user, queryset, *, narrowed):
    """How many incidents `queryset` holds, exactly: `visible_incidents(user)`, possibly narrowed.

    `narrowed` says whether the reader's filters or search may have narrowed the queryset
    (when in doubt, say True). A narrowed list is counted as it is. An unnarrowed one is all
    the reader may see, and counting that row by row grows with the table (35 ms at 100,000
    incidents); instead, in one query:

    - compliance staff: the tally's two totals (a one-row table the database keeps);
    - coordinators and the intake: the tally's non-confidential total + the confidential
      incidents they may see (team, own reports, for the intake the unassigned ones),
      counted from the confidential rows' own index (`incident_confidential_idx`);
    - everyone else (their own reports): counted as it is, from the reporter index.
    """
    if narrowed or not user.has_perm("incidents.view_incident"):
        return queryset.count()
    if sees_everything(user):
        sql, params = f"SELECT public_count + confidential_count FROM {TALLY_TABLE}", ()
    else:
        confidential = queryset.filter(confidential=True).order_by().values("pk")
        inner, params = confidential.query.sql_with_params()
        sql = f"SELECT public_count + (SELECT COUNT(*) FROM ({inner}) visible) FROM {TALLY_TABLE}"
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def own_reports(user):
    """The incidents `user` reported, as the self-service pages list them (whatever else they
    may see: those pages show a reporter what they reported)."""
    return Incident.objects.filter(reporter=user).select_related("category")


def categories():
    """The kinds of incident a report may name: the active categories, by name."""
    return Category.objects.filter(active=True).order_by("name", "id")


def incident_list(user):
    """The list queryset: visible incidents with what a list row shows, in a fixed number of queries.

    A row shows the category's name but only the ids of the manager and the reporter: joining
    the users would build two user objects per row for nothing.
    """
    return visible_incidents(user).select_related("category")


# What a list row reads: its columns (shown as they are), the category's name, the ids of
# the manager and reporter, and the times its response-target state needs. Loading only these
# keeps the long texts and the other times of 100 rows out of each page.
LIST_COLUMNS = (
    "reference",
    "title",
    "description",
    "affected_service",
    "impact",
    "urgency",
    "priority",
    "status",
    "occurred_at",
    "reported_at",
    "is_late",
    "confidential",
    "anonymous",
)
LIST_FIELDS = (
    "id",
    *LIST_COLUMNS,
    "category__id",
    "category__name",
    "incident_manager_id",
    "reporter_id",
    "acknowledged_at",
    "contained_at",
    "recovered_at",
    "last_update_at",
)


def incident_list_rows(user):
    """`incident_list(user)` with only what a list row reads (see LIST_FIELDS)."""
    return incident_list(user).only(*LIST_FIELDS)


# -- response targets ----------------------------------------------------------

MET, PENDING, AT_RISK, BREACHED, MISSED = "met", "pending", "at_risk", "breached", "missed"

TARGET_PHASES = (
    ("acknowledge", "acknowledged_at", "acknowledge_minutes"),
    ("contain", "contained_at", "contain_minutes"),
    ("recover", "recovered_at", "recover_minutes"),
)


def targets_by_priority():
    """All response targets, one query; the table has at most four rows."""
    return {t.priority: t for t in ResponseTarget.objects.all()}


def _state(start, done_at, minutes, now, closed):
    deadline = start + datetime.timedelta(minutes=minutes)
    if done_at is not None:
        return MET if done_at <= deadline else MISSED
    if closed:
        return None
    if now > deadline:
        return BREACHED
    risk = start + datetime.timedelta(minutes=minutes * settings.INCIDENT_TARGET_AT_RISK_RATIO)
    return AT_RISK if now >= risk else PENDING


@dataclass
class TargetStates:
    acknowledge: str | None
    contain: str | None
    recover: str | None
    update: str | None
    next_update_due: datetime.datetime | None

    def as_dict(self):
        return {
            "acknowledge": self.acknowledge,
            "contain": self.contain,
            "recover": self.recover,
            "update": self.update,
            "next_update_due": self.next_update_due,
        }

    @property
    def worst(self):
        """The state a list shows: breached beats at risk beats pending beats met."""
        states = {self.acknowledge, self.contain, self.recover, self.update}
        for state in (BREACHED, MISSED, AT_RISK, PENDING, MET):
            if state in states:
                return state
        return None


def target_states(incident, targets, now=None):
    """Met / pending / at risk / breached (missed: done, but late) for each target of one incident.

    `targets` comes from `targets_by_priority()`, loaded once per page.
    """
    now = now or timezone.now()
    target = targets.get(incident.priority)
    if target is None or incident.status == Status.CANCELLED:
        return TargetStates(None, None, None, None, None)
    closed = incident.status not in OPEN_STATUSES
    states = {
        name: _state(
            incident.reported_at, getattr(incident, field), getattr(target, minutes), now, closed
        )
        for name, field, minutes in TARGET_PHASES
    }
    update_state, due = None, None
    if not closed:
        since = incident.last_update_at or incident.acknowledged_at or incident.reported_at
        due = since + datetime.timedelta(minutes=target.update_minutes)
        update_state = _state(since, None, target.update_minutes, now, False)
    return TargetStates(
        states["acknowledge"], states["contain"], states["recover"], update_state, due
    )


@dataclass(frozen=True)
class TargetDeadline:
    """One response target of an incident as its page shows it."""

    name: str  # acknowledge, contain, recover, update
    state: str | None
    deadline: datetime.datetime
    done_at: datetime.datetime | None


def target_deadlines(incident, targets, now=None):
    """Each response target of `incident` with its state, its deadline and when it was met
    (the next stakeholder update last); empty without targets (no target for its priority,
    cancelled). Time left or overdue by is the deadline against now."""
    now = now or timezone.now()
    states = target_states(incident, targets, now)
    target = targets.get(incident.priority)
    if target is None or incident.status == Status.CANCELLED:
        return []
    rows = [
        TargetDeadline(
            name,
            getattr(states, name),
            incident.reported_at + datetime.timedelta(minutes=getattr(target, minutes)),
            getattr(incident, field),
        )
        for name, field, minutes in TARGET_PHASES
    ]
    if states.next_update_due is not None:
        rows.append(TargetDeadline("update", states.update, states.next_update_due, None))
    return rows


def worst_target(incident, targets, now=None):
    """The state a list shows (see `TargetStates.worst`) and the deadline it is measured
    against: the earliest deadline among the open targets in that state (how long ago it was
    breached, or how long is left); None for met, missed or no targets."""
    now = now or timezone.now()
    states = target_states(incident, targets, now)
    worst = states.worst
    if worst not in (BREACHED, AT_RISK, PENDING):
        return worst, None
    target = targets[incident.priority]
    deadlines = [
        incident.reported_at + datetime.timedelta(minutes=getattr(target, minutes))
        for name, _, minutes in TARGET_PHASES
        if getattr(states, name) == worst
    ]
    if states.update == worst:
        deadlines.append(states.next_update_due)
    return worst, min(deadlines)


def breached_filter(targets=None, now=None):
    """A Q matching open incidents with any target breached right now (one constant per priority)."""
    targets = targets if targets is not None else targets_by_priority()
    now = now or timezone.now()
    condition = Q(pk__in=[])
    for priority, target in targets.items():
        for _, field, minutes in TARGET_PHASES:
            limit = now - datetime.timedelta(minutes=getattr(target, minutes))
            condition |= Q(
                priority=priority, **{f"{field}__isnull": True, "reported_at__lt": limit}
            )
    return condition & Q(status__in=OPEN_STATUSES)


def overdue_for_escalation(now=None):
    """(incident id, rule) pairs: open, not acknowledged past the target, rule not yet applied."""
    now = now or timezone.now()
    targets = targets_by_priority()
    pairs = []
    for rule in EscalationRule.objects.filter(active=True).select_related("to_user", "to_group"):
        target = targets.get(rule.priority)
        if target is None:
            continue
        limit = now - datetime.timedelta(minutes=target.acknowledge_minutes)
        ids = (
            Incident.objects.filter(
                priority=rule.priority,
                status=Status.REPORTED,
                acknowledged_at__isnull=True,
                reported_at__lt=limit,
            )
            .exclude(
                Exists(
                    Escalation.objects.filter(incident=OuterRef("pk"), rule=rule, automatic=True)
                )
            )
            .order_by("reported_at")
            .values_list("pk", flat=True)
        )
        pairs.extend((pk, rule) for pk in ids)
    return pairs


# The metrics (product.md §1) are their own read: incidents/metrics.py.


def past_due_actions(today=None):
    """A Q matching actions still to do whose due date has passed (before `today`, the
    reader's date by default): the metrics count them, the action list filters by it."""
    today = today or timezone.localdate()
    return Q(status__in=Action.OUTSTANDING, due_date__lt=today)


def reopened():
    """A Q matching incidents reopened at least once (metrics and the list's filter)."""
    return Q(reopened_count__gt=0)


def with_delivery(queryset):
    """`queryset` (communications or escalations) with the state of its latest email in
    the outbox: status, error, when it was sent, when it is retried.

    One subquery per column, not a query per row: the inline and the list read it.
    """
    from django.contrib.contenttypes.models import ContentType

    from core.models import OutgoingEmail

    emails = OutgoingEmail.objects.filter(
        about_type=ContentType.objects.get_for_model(queryset.model), about_id=OuterRef("pk")
    ).order_by("-id")
    return queryset.annotate(
        delivery_status=Subquery(emails.values("status")[:1]),
        delivery_error=Subquery(emails.values("last_error")[:1]),
        delivery_sent_at=Subquery(emails.values("sent_at")[:1]),
        delivery_retry_at=Subquery(emails.values("next_attempt_at")[:1]),
    )


def _when(moment):
    return timezone.localtime(moment).strftime("%d %b %Y %H:%M %Z")


def delivery_text(record):
    """How the email about `record` (annotated by `with_delivery`) went, in words: "sent"
    only once the mail server has taken it."""
    status = getattr(record, "delivery_status", None)
    if status is None:
        return "no email"
    sent_at = getattr(record, "delivery_sent_at", None)
    retry_at = getattr(record, "delivery_retry_at", None)
    if status == "sent":
        return f"sent {_when(sent_at)}" if sent_at else "sent"
    if status == "failed":
        then = f"; retried from {_when(retry_at)}" if retry_at else "; not retried again"
        return f"failed: {record.delivery_error}{then}"
    if status == "sending":
        return "sending"
    return "queued, not sent yet"


def escalations_visible_to(user):
    """The escalations `user` may read and act on: those of incidents they see in full, and
    those addressed to them or a group of theirs (`escalated_to`), whatever the incident."""
    if user is None or not user.is_authenticated:
        return Escalation.objects.none()
    condition = Q(incident__in=fully_visible_incidents(user).values("pk"))
    if user.is_active:
        condition |= Q(to_user=user) | Q(to_group__in=user.groups.values("pk"))
    return Escalation.objects.filter(condition)


# -- responder readiness (models.Readiness) -------------------------------------------------


def _latest_readiness(part=None):
    rows = Readiness.objects.filter(incident_id=OuterRef("incident_id"), user_id=OuterRef("user_id"))
    if part is not None:
        rows = rows.filter(part=part)
    return rows.order_by("-recorded_at", "-id")


def with_readiness(members):
    """Team members annotated with their newest readiness record: `readiness_state`,
    `readiness_acknowledged_at`, `readiness_missing` (one query with the rows)."""
    latest = _latest_readiness(Readiness.Part.TEAM_MEMBER)
    return members.annotate(
        readiness_state=Subquery(latest.values("state")[:1]),
        readiness_acknowledged_at=Subquery(latest.values("acknowledged_at")[:1]),
        readiness_plan_version=Subquery(latest.values("plan_version_id")[:1]),
        readiness_missing=Subquery(latest.values("courses_missing")[:1]),
    )


def readiness_words(state, acknowledged_at, missing, has_plan=True):
    """How a readiness record reads: "Ready", "Not ready: plan not acknowledged; overdue on
    First aid", "No plan in force", "—" (none recorded)."""
    if not state:
        return "—"
    if state == Readiness.State.NO_PLAN:
        return "No plan in force"
    if state == Readiness.State.READY:
        return "Ready (plan acknowledged, training current)"
    gaps = []
    if acknowledged_at is None:
        gaps.append("plan not acknowledged")
    for course in missing or []:
        gaps.append(f"{course.get('state', 'not current')} on {course.get('title')}")
    return "Not ready: " + "; ".join(gaps)


def fully_ready(incidents):
    """Incidents whose every readiness record (each person as they took their part) was
    ready: "handled by a team fully current on its plan". Incidents with none recorded, or
    with no plan in force, are not counted as such."""
    not_ready = Readiness.objects.filter(incident_id=OuterRef("pk")).exclude(
        state=Readiness.State.READY
    )
    any_row = Readiness.objects.filter(incident_id=OuterRef("pk"))
    return incidents.filter(Exists(any_row), ~Exists(not_ready))


def attachments_visible_to(user):
    """The evidence files `user` may read and download: those of incidents they see in full
    (`fully_visible_incidents`), for holders of `view_attachment`. A reporter outside the
    response sees none, as of the rest of the response."""
    if user is None or not user.is_authenticated or not user.has_perm("incidents.view_attachment"):
        return Attachment.objects.none()
    if sees_everything(user):
        return Attachment.objects.all()
    return Attachment.objects.filter(incident__in=fully_visible_incidents(user).values("pk"))


def attachment_rows(queryset):
    """Attachments with what a list shows (the uploader, the supersession, every download and
    who made it) in a fixed number of queries: one for the page, one for the downloads."""
    from django.db.models import Prefetch

    from .models import AttachmentDownload

    downloads = AttachmentDownload.objects.select_related("user").order_by("-at", "-id")
    return queryset.select_related("uploaded_by", "superseded_by_person").prefetch_related(
        Prefetch("downloads", queryset=downloads)
    )
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
    from .models import Obligation, ObligationSubmission, ObligationWaiver

    now = now or timezone.now()
    if source.incident is not None:
        qs = Obligation.objects.filter(category_id=source.incident.category_id)
        incident_pk = Value(source.incident.pk)
        status = Value(source.incident.status, output_field=CharField())
    else:
        qs = Obligation.objects.filter(category_id=OuterRef("category_id"))
        incident_pk = OuterRef(OuterRef("pk"))
        status = source.field("status", output_field=CharField())
    submissions = ObligationSubmission.objects.filter(incident_id=incident_pk)
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
        due_at=Case(
            When(cap_hours__isnull=True, then=F("nominal_due")),
            When(anchor_at__isnull=True, then=F("cap_at")),
            When(nominal_due__lte=F("cap_at"), then=F("nominal_due")),
            default=F("cap_at"),
            output_field=DateTimeField(),
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
    now_value = Value(now, output_field=DateTimeField())
    cases = [When(waived=True, then=Value(NOT_APPLICABLE))]
    cases.append(When(incident_status=Status.CANCELLED, then=Value(NOT_APPLICABLE)))
    cases += [
        When(submitted_at__isnull=False, due_at__isnull=True, then=Value(MET)),
        When(submitted_at__isnull=False, submitted_at__lte=F("due_at"), then=Value(MET)),
        When(submitted_at__isnull=False, then=Value(MISSED)),
        When(due_at__isnull=True, then=Value(PENDING)),
        When(due_at__lt=now_value, then=Value(BREACHED)),
        When(risk_at__lte=now_value, then=Value(AT_RISK)),
    ]
    return qs.annotate(
        state=Case(*cases, default=Value(PENDING), output_field=CharField())
    ).order_by("id")


def incident_obligations(incident, now=None):
    """The obligations of one incident with their states (`obligation_states`), one query;
    the submission and waiver themselves come from `obligation_records`."""
    if incident.category_id is None:
        from .models import Obligation

        return Obligation.objects.none()
    return obligation_states(IncidentSource(incident), now=now).select_related("previous")


def obligation_records(incident):
    """{obligation id: submission} and {obligation id: waiver} of one incident (two queries)."""
    from .models import ObligationSubmission, ObligationWaiver

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
    obligations (OBLIGATION_STATE_RANK), None without any; in the list's own query (one
    EXISTS per state, first match wins)."""
    states = obligation_states(IncidentSource(), now=now)
    worst = Case(
        *(
            When(Exists(states.filter(state=state)), then=Value(state))
            for state in OBLIGATION_STATE_RANK
        ),
        default=Value(None, output_field=CharField()),
        output_field=CharField(),
    )
    return queryset.annotate(obligation_state=worst)


def obligation_state_filter(state, now=None):
    """A Q matching incidents with at least one obligation in `state`."""
    if state not in OBLIGATION_STATES:
        return Q(pk__in=[])
    return Q(Exists(obligation_states(IncidentSource(), now=now).filter(state=state)))


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

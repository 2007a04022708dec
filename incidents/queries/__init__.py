"""Read side of incidents: who may see what, response-target states, escalation candidates.

The faces import `incidents.queries` alone; its parts are re-exported at the end of this
module: responder readiness (`readiness`), attachments (`attachments`) and the notification
obligations (`obligations`). The metrics are their own read: incidents/metrics.py."""

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.db.models import (
    BooleanField,
    Exists,
    ExpressionWrapper,
    OuterRef,
    Q,
    Subquery,
    Value,
)
from django.utils import timezone

from core.history_diff import NO_MASK, Mask
from core.workflow import next_statuses

from ..models import (
    OPEN_STATUSES,
    Action,
    Category,
    Escalation,
    EscalationRule,
    Incident,
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
    team = getattr(incident, "_prefetched_objects_cache", {}).get("team")
    if team is not None:  # read with the incident (the API's detail): no query
        return any(member.user_id == user.pk for member in team)
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


# The parts, read through this module (they import the predicates defined above).
from .attachments import attachment_rows, attachments_visible_to  # noqa: E402
from .obligations import (  # noqa: E402
    HOURS_PER_MONTH_FOR_RISK,
    NOT_APPLICABLE,
    OBLIGATION_STATE_LABELS,
    OBLIGATION_STATE_RANK,
    OBLIGATION_STATES,
    DeadlineAdd,
    IncidentSource,
    add_deadline,
    aware_at,
    breached_obligations,
    incident_obligations,
    obligation_counts,
    obligation_records,
    obligation_state_filter,
    obligation_states,
    sqlite_add_deadline,
    with_worst_obligation,
)
from .readiness import fully_ready, readiness_words, with_readiness  # noqa: E402
from .totals import (  # noqa: E402
    MANAGER_TALLY_TABLE,
    TALLY_TABLE,
    incident_managers,
    visible_count,
)

# What the parts export through this module (the names defined above are public as usual).
__all__ = [
    "HOURS_PER_MONTH_FOR_RISK",
    "MANAGER_TALLY_TABLE",
    "TALLY_TABLE",
    "NOT_APPLICABLE",
    "OBLIGATION_STATE_LABELS",
    "OBLIGATION_STATE_RANK",
    "OBLIGATION_STATES",
    "DeadlineAdd",
    "IncidentSource",
    "add_deadline",
    "attachment_rows",
    "attachments_visible_to",
    "aware_at",
    "breached_obligations",
    "fully_ready",
    "incident_managers",
    "incident_obligations",
    "obligation_counts",
    "obligation_records",
    "obligation_state_filter",
    "obligation_states",
    "readiness_words",
    "sqlite_add_deadline",
    "visible_count",
    "with_readiness",
    "with_worst_obligation",
]

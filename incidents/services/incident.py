"""Reporting an incident, editing what it says, moving it through its lifecycle."""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from core.errors import InvalidInput, TransitionNotAllowed
from core.history import stamp
from core.history_diff import person_name
from core.roles import INCIDENT_INTAKE
from core.services import audited_save, lock, model_update, require
from core.workflow import check_transition
from plans import queries as plan_queries

from ..models import (
    UNCLASSIFIED_STATUSES,
    Incident,
    PostIncidentReview,
    Readiness,
    ReferenceCounter,
    Status,
    TimelineEntry,
)
from .common import incident_url, mail, person, require_on, timeline
from .readiness import readiness_record
from .reviews import withdraw_change_request_text

User = get_user_model()

CHANGE_INCIDENT = "incidents.change_incident"

# Descriptive fields anyone who may edit an incident may change.
DESCRIPTIVE_FIELDS = (
    "title",
    "description",
    "affected_service",
    "observed_impact",
    "actions_taken",
    "occurred_at",
    "category",
    "impact",
    "urgency",
    "confidential",
    "incident_manager",
)

# The longest reason a step may give (it is kept in the history and on the timeline).
REASON_MAX_LENGTH = 2000

# The timestamp each phase stamps when it is entered (first time only).
PHASE_ENTERED_AT = {
    Status.TRIAGED: "acknowledged_at",
    Status.INVESTIGATING: "investigating_at",
    Status.CONTAINED: "contained_at",
    Status.ERADICATED: "eradicated_at",
    Status.RECOVERED: "recovered_at",
    Status.CLOSED: "closed_at",
    Status.CANCELLED: "cancelled_at",
}


def _next_reference(year):
    """INC-YYYY-NNNN from a per-year counter row, locked while the number is taken."""
    counter, _ = ReferenceCounter.objects.get_or_create(year=year)
    counter = lock(counter)
    counter.last_number += 1
    counter.save()
    return f"INC-{year}-{counter.last_number:04d}"


def _plan_version(category, reported_at):
    """The version of the category's plan in force when the incident was reported.

    Asked when the category is known: at the report, or at triage for a report filed
    unclassified (then too at the report's time, so `plan_version` means the same for
    every incident however it came in).
    """
    if category is None or not category.plan_id:
        return None
    return plan_queries.version_in_force(category.plan, reported_at)


@transaction.atomic
def incident_report(
    *,
    actor,
    title,
    description,
    occurred_at,
    category=None,
    impact=3,
    urgency=3,
    affected_service="",
    observed_impact="",
    actions_taken="",
    anonymous=False,
    confidential=False,
    reported_at=None,
    incident_manager=None,
):
    """File a report. The reporter is kept even when anonymous (compliance may see it).

    Title, description and when it occurred are enough: without a category the report is
    unclassified and waits for triage; impact and urgency keep their defaults until then.

    `incident_manager` (coordinators only) names the manager in the same step, so whoever
    files a confidential incident for someone else never needs to see it afterwards.
    """
    require(actor, "incidents.add_incident")
    if incident_manager is not None:
        require(actor, CHANGE_INCIDENT)
    now = reported_at or timezone.now()
    incident = Incident(
        title=title,
        description=description,
        occurred_at=occurred_at,
        reported_at=now,
        category=category,
        impact=impact,
        urgency=urgency,
        affected_service=affected_service,
        observed_impact=observed_impact,
        actions_taken=actions_taken,
        anonymous=anonymous,
        confidential=confidential,
        reporter=person(actor),
        incident_manager=incident_manager,
        plan_version=_plan_version(category, now),
    )
    # Checked before a number is taken, so a refused report burns none.
    incident.reference = "pending"
    incident.full_clean(exclude=["reference"])
    incident.reference = _next_reference(now.year)
    stamp(incident, actor=actor, reason="Reported")
    incident.save()
    if incident_manager is not None:
        _manager_readiness(incident, actor)
    _announce_report(incident, actor=actor)
    return incident


def _manager_readiness(incident, actor):
    readiness_record(
        incident=incident,
        user=incident.incident_manager,
        part=Readiness.Part.INCIDENT_MANAGER,
        actor=actor,
    )


def _announce_report(incident, *, actor):
    """The report's first timeline line, and the intake's email once it commits."""
    text = "Reported" + (" late" if incident.is_late else "")
    text += " anonymously" if incident.anonymous else ""
    timeline(incident, TimelineEntry.Kind.NOTE, text, actor=None if incident.anonymous else actor)
    mail(intake_message(incident), _intake_recipients(), about=incident)


def _intake_recipients():
    return list(
        User.objects.filter(groups__name=INCIDENT_INTAKE, is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )


def intake_message(incident):
    """(subject, body) of the email telling the intake of a new report, once it commits.

    One email to the whole group. For a confidential report it names the reference and
    the link only: no title, description, service or reporter (the link opens it for
    those who may see it). An anonymous report never names its reporter.
    """
    url = incident_url(incident)
    if incident.confidential:
        return (
            f"New confidential report to triage: {incident.reference}",
            (
                f"{incident.reference} has been reported and waits for triage.\n\n"
                "It is confidential: its details are shown only on the page, to the intake "
                "until an incident manager is named, then to its response team, compliance "
                f"and administrators.\n\n{url}\n"
            ),
        )
    reporter = incident.reporter
    reported_by = "anonymous" if incident.anonymous or reporter is None else person_name(reporter)
    category = incident.category.name if incident.category_id else "not classified"
    lines = [
        f"{incident.reference} has been reported and waits for triage.",
        "",
        f"Title: {incident.title}",
        f"Category: {category}",
        f"Priority: {incident.priority} (impact {incident.get_impact_display()}, "
        f"urgency {incident.get_urgency_display()})",
        f"Affected service: {incident.affected_service or '—'}",
        f"Reported by: {reported_by}",
    ]
    if incident.is_late:
        lines.append("Reported late (long after it occurred).")
    lines += ["", incident.description, "", url]
    return (
        f"[{incident.priority}] New report to triage: {incident.reference} {incident.title}",
        "\n".join(lines) + "\n",
    )


@transaction.atomic
def incident_update(*, incident, actor, reason="", **fields):
    """Change descriptive fields; priority follows impact and urgency."""
    incident = lock(incident)
    require_on(actor, CHANGE_INCIDENT, incident)
    before, was_confidential = incident.priority, incident.confidential
    manager_before = incident.incident_manager_id
    if "category" in fields and fields["category"] != incident.category:
        if fields["category"] is None and incident.status not in UNCLASSIFIED_STATUSES:
            raise InvalidInput(
                "An incident past triage keeps a category: choose another one.", field="category"
            )
        # Classified (or reclassified): the plan in force is the new category's.
        incident.plan_version = _plan_version(fields["category"], incident.reported_at)
    changed = model_update(
        instance=incident,
        actor=actor,
        fields=fields,
        allowed=DESCRIPTIVE_FIELDS,
        reason=reason or "Edited",
    )
    if not changed:
        return incident
    if incident.incident_manager_id not in (None, manager_before):
        _manager_readiness(incident, actor)
    if incident.confidential and not was_confidential:
        withdraw_change_request_text(incident, actor=actor)
    if incident.priority != before:
        text = f"Priority changed from {before} to {incident.priority}"
        timeline(incident, TimelineEntry.Kind.NOTE, text, actor=actor)
    return incident


def _check_step(incident, target, reason):
    """The rules of a step besides the table: classified past triage, reasons, the review."""
    if len(reason) > REASON_MAX_LENGTH:
        raise InvalidInput(f"Keep the reason under {REASON_MAX_LENGTH} characters.", field="reason")
    if incident.category_id is None and target not in UNCLASSIFIED_STATUSES:
        raise TransitionNotAllowed(
            f"Classify the incident (choose its category) before it goes to {target.label.lower()}."
        )
    if not incident.is_open and not reason:
        raise InvalidInput("Reopening needs a reason.", field="reason")
    if target == Status.CANCELLED and not reason:
        raise InvalidInput(
            "Cancelling needs a reason (duplicate, not an incident, …).", field="reason"
        )
    if target == Status.CLOSED and incident.priority in ("P1", "P2"):
        review = PostIncidentReview.objects.filter(incident=incident).first()
        if review is None or not review.is_completed:
            raise TransitionNotAllowed(
                f"A {incident.priority} incident cannot close before its post-incident review is completed."
            )


@transaction.atomic
def incident_transition(*, incident, actor, status, reason=""):
    """Move an incident to its next phase: checked, stamped, on the timeline, with who and why."""
    incident = lock(incident)
    require_on(actor, CHANGE_INCIDENT, incident)
    current = Status(incident.status)
    try:
        target = Status(status)
    except ValueError as exc:
        raise InvalidInput(f"Unknown status {status!r}.", field="status") from exc
    check_transition(incident, target)
    reason = (reason or "").strip()
    _check_step(incident, target, reason)
    if not incident.is_open:  # reopened
        incident.reopened_count += 1
        incident.closed_at = None
        incident.cancelled_at = None
    stamp_field = PHASE_ENTERED_AT[target]
    if getattr(incident, stamp_field) is None:
        setattr(incident, stamp_field, timezone.now())
    incident.status = target
    label = f"{current.label} → {target.label}"
    audited_save(incident, actor=actor, reason=f"{label}: {reason}" if reason else label)
    text = label + (f" — {reason}" if reason else "")
    timeline(incident, TimelineEntry.Kind.STATUS_CHANGE, text, actor=actor)
    return incident

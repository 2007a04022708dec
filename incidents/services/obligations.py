"""Notification obligations of an incident: when the organisation became aware, its
classification as major, a deliverable submitted, an obligation not applicable, and the
timer escalating a breached one (docs/incidents.md §Notification obligations)."""

import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import Conflict, InvalidInput
from core.services import audited_save, lock, model_update

from .. import queries
from ..models import (
    EscalationLevel,
    Incident,
    Obligation,
    ObligationSubmission,
    ObligationWaiver,
    TimelineEntry,
)
from .common import require_on, timeline
from .escalations import _escalate

REASON_MAX_LENGTH = 2000
# A moment typed a little ahead of the server's clock (a few minutes) is not "the future".
CLOCK_SLACK = datetime.timedelta(minutes=5)
SUBMISSION_FIELDS = ("recipient", "reference", "text", "attachment", "submitted_at")


def _reason(reason, what):
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(f"Say why {what}.", field="reason")
    if len(reason) > REASON_MAX_LENGTH:
        raise InvalidInput(f"Keep the reason under {REASON_MAX_LENGTH} characters.", field="reason")
    return reason


def _moment(value, incident, field, *, now):
    """A recorded moment of `incident`: not in the future, not before it occurred."""
    if value is None:
        return now
    if timezone.is_naive(value):
        raise InvalidInput("Give the time with its zone.", field=field)
    if value > now + CLOCK_SLACK:
        raise InvalidInput("That time is in the future.", field=field)
    if value < incident.occurred_at:
        raise InvalidInput("That time is before the incident occurred.", field=field)
    return value


@transaction.atomic
def incident_set_aware(*, incident, actor, aware_at, reason):
    """Record when the organisation became aware of `incident` (the clocks of its
    obligations start there): not in the future, not before it occurred; with a reason."""
    incident = lock(incident)
    require_on(actor, "incidents.change_incident", incident)
    reason = _reason(reason, "the organisation became aware then")
    if aware_at is None:
        raise InvalidInput("Give the time the organisation became aware.", field="aware_at")
    aware_at = _moment(aware_at, incident, "aware_at", now=timezone.now())
    changed = model_update(
        instance=incident,
        actor=actor,
        fields={"aware_at": aware_at},
        allowed=("aware_at",),
        reason=f"Became aware: {reason}",
    )
    if changed:
        shown = timezone.localtime(aware_at).strftime("%d %b %Y %H:%M %Z")
        timeline(
            incident, TimelineEntry.Kind.NOTE, f"Became aware at {shown}: {reason}", actor=actor
        )
    return incident


@transaction.atomic
def incident_classify_major(*, incident, actor, reason, classified_at=None):
    """Record that `incident` was classified as a major incident (DORA's clock), once."""
    incident = lock(incident)
    require_on(actor, "incidents.change_incident", incident)
    reason = _reason(reason, "it is a major incident")
    if incident.classified_major_at is not None:
        raise Conflict("This incident was classified as major already.")
    incident.classified_major_at = _moment(
        classified_at, incident, "classified_at", now=timezone.now()
    )
    audited_save(incident, actor=actor, reason=f"Classified as major: {reason}")
    timeline(incident, TimelineEntry.Kind.NOTE, f"Classified as major: {reason}", actor=actor)
    return incident


def _obligation_of(incident, obligation):
    if not isinstance(obligation, Obligation):
        obligation = Obligation.objects.filter(pk=obligation).first()
    if (
        obligation is None
        or obligation.category_id != incident.category_id
        or not obligation.active
    ):
        raise InvalidInput("This obligation is not one of this incident's.", field="obligation")
    return obligation


@transaction.atomic
def obligation_submit(
    *,
    incident,
    obligation,
    actor,
    recipient,
    reference="",
    text="",
    attachment="",
    submitted_at=None,
):
    """Record what was sent to meet `obligation` for `incident`: when (default now; not in
    the future, not before the incident occurred), to whom, its reference, its text."""
    incident = lock(incident)
    require_on(actor, "incidents.add_obligationsubmission", incident)
    obligation = _obligation_of(incident, obligation)
    recipient = (recipient or "").strip()
    if not recipient:
        raise InvalidInput("Say to whom it was sent.", field="recipient")
    if not (text or "").strip() and not (attachment or "").strip():
        raise InvalidInput("Give the text sent, or name the attachment.", field="text")
    if ObligationWaiver.objects.filter(incident=incident, obligation=obligation).exists():
        raise Conflict("This obligation was marked not applicable to this incident.")
    if ObligationSubmission.objects.filter(incident=incident, obligation=obligation).exists():
        raise Conflict("This obligation has been submitted for this incident already.")
    if (
        obligation.previous_id is not None
        and not ObligationSubmission.objects.filter(
            incident=incident, obligation_id=obligation.previous_id
        ).exists()
    ):
        raise Conflict(f"Submit “{obligation.previous.name}” first: this one follows it.")
    submission = ObligationSubmission(
        incident=incident,
        obligation=obligation,
        submitted_at=_moment(submitted_at, incident, "submitted_at", now=timezone.now()),
        recipient=recipient,
        reference=(reference or "").strip(),
        text=text or "",
        attachment=(attachment or "").strip(),
        submitted_by=actor,
    )
    audited_save(submission, actor=actor, reason=f"Submitted: {obligation.name}")
    line = f"{obligation.name} submitted to {recipient}"
    if submission.reference:
        line += f" (reference {submission.reference})"
    timeline(incident, TimelineEntry.Kind.COMMUNICATION, line, actor=actor)
    return submission


@transaction.atomic
def obligation_not_applicable(*, incident, obligation, actor, reason):
    """Mark `obligation` not applicable to `incident`, with the reason (recorded)."""
    incident = lock(incident)
    require_on(actor, "incidents.add_obligationwaiver", incident)
    obligation = _obligation_of(incident, obligation)
    reason = _reason(reason, "it does not apply")
    if ObligationSubmission.objects.filter(incident=incident, obligation=obligation).exists():
        raise Conflict("This obligation has been submitted already: it applied.")
    if ObligationWaiver.objects.filter(incident=incident, obligation=obligation).exists():
        raise Conflict("This obligation is already marked not applicable here.")
    waiver = ObligationWaiver(
        incident=incident, obligation=obligation, reason=reason, decided_by=actor
    )
    audited_save(waiver, actor=actor, reason=f"Not applicable: {reason}")
    line = f"{obligation.name}: not applicable ({reason})"
    timeline(incident, TimelineEntry.Kind.NOTE, line, actor=actor)
    return waiver


def escalate_breached_obligations(*, actor, now=None):
    """Escalate, once per incident and obligation, every open incident with a notification
    obligation past its due time and unsubmitted: to its incident manager (level 2), or
    without one to the Incident intake group (level 1). As `escalate_overdue`: SKIP LOCKED,
    a unique index, the actor recorded but not asked (only the cron command calls this)."""
    created = []
    for incident_id, obligation_id in queries.breached_obligations(now=now):
        try:
            with transaction.atomic():
                escalation = _escalate_obligation(incident_id, obligation_id, actor=actor, now=now)
        except IntegrityError:
            continue
        if escalation is not None:
            created.append(escalation)
    return created


def _escalate_obligation(incident_id, obligation_id, *, actor, now):
    from django.contrib.auth.models import Group

    from core.roles import INCIDENT_INTAKE

    from ..models import Escalation

    locked = Incident.objects.select_for_update(skip_locked=True).filter(pk=incident_id).first()
    if (
        locked is None
        or Escalation.objects.filter(
            incident_id=incident_id, obligation_id=obligation_id, automatic=True
        ).exists()
    ):
        return None
    row = next(
        (o for o in queries.incident_obligations(locked, now=now) if o.pk == obligation_id), None
    )
    if row is None or row.state != queries.BREACHED:
        return None
    if locked.incident_manager_id is not None:
        target = {"to_user": locked.incident_manager, "to_group": None}
        level = EscalationLevel.INCIDENT_MANAGER
    else:
        group = Group.objects.filter(name=INCIDENT_INTAKE).first()
        if group is None:
            return None
        target = {"to_user": None, "to_group": group}
        level = EscalationLevel.TEAM_LEAD
    due = row.due_at.strftime("%d %b %Y %H:%M UTC")
    escalation = _escalate(
        incident=locked,
        actor=actor,
        level=level,
        reason=f"{row.name} ({row.authority}) not submitted by its due time, {due}.",
        automatic=True,
        rule=None,
        obligation_id=obligation_id,
        **target,
    )
    return escalation

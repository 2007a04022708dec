"""Escalating an incident (by hand, or by the timer past its acknowledge target) and acknowledging it."""

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import InvalidInput, TransitionNotAllowed
from core.history_diff import person_name
from core.services import audited_save, lock

from .. import queries
from ..models import Escalation, Incident, ResponseTarget, TimelineEntry
from .common import incident_url, mail, require_on, timeline

User = get_user_model()


def _escalation_recipients(escalation):
    if escalation.to_user_id:
        return [escalation.to_user.email]
    return list(
        User.objects.filter(groups=escalation.to_group, is_active=True).values_list(
            "email", flat=True
        )
    )


@transaction.atomic
def incident_escalate(
    *, incident, actor, level, reason, to_user=None, to_group=None, automatic=False, rule=None
):
    """Hand an incident up (or across): recorded, on the timeline, and the recipients are told."""
    incident = lock(incident)
    require_on(actor, "incidents.add_escalation", incident)
    return _escalate(
        incident=incident,
        actor=actor,
        level=level,
        reason=reason,
        to_user=to_user,
        to_group=to_group,
        automatic=automatic,
        rule=rule,
    )


def _escalate(
    *, incident, actor, level, reason, to_user, to_group, automatic, rule, obligation_id=None
):
    """The escalation itself, on a locked incident, without asking the actor's permission
    (`incident_escalate` asks; the escalation timer acts whoever runs it)."""
    if (to_user is None) == (to_group is None):
        raise InvalidInput("Escalate to exactly one person or one group.", field="to_user")
    if not (reason or "").strip():
        raise InvalidInput("Say why you escalate.", field="reason")
    if not incident.is_open:
        raise TransitionNotAllowed("Only open incidents can be escalated.")
    escalation = Escalation(
        incident=incident,
        level=level,
        to_user=to_user,
        to_group=to_group,
        reason=reason.strip(),
        escalated_by=actor,
        automatic=automatic,
        rule=rule,
        obligation_id=obligation_id,
    )
    audited_save(
        escalation, actor=actor, reason="Automatic escalation" if automatic else "Escalated"
    )
    target = person_name(to_user) if to_user else f"group {to_group.name}"
    level_shown = escalation.get_level_display()
    text = f"Escalated to {target} (level {level_shown}): {escalation.reason}"
    timeline(incident, TimelineEntry.Kind.ESCALATION, text, actor=actor)
    mail(escalation_message(escalation), _escalation_recipients(escalation), about=escalation)
    return escalation


def escalation_message(escalation):
    """(subject, body) of the email telling the recipients of an escalation.

    The recipients are whoever it was escalated to (a whole group, perhaps), not the
    incident's team: for a confidential incident the email carries its reference,
    priority, status and level and a link, never its title or the escalation's reason;
    the link opens it only for those who may see it.
    """
    incident = escalation.incident
    heading = f"{incident.reference} ({incident.priority}, {incident.get_status_display()})"
    level = escalation.get_level_display()
    if incident.confidential:
        return (
            f"[{incident.priority}] Escalated to you: {incident.reference} (confidential)",
            (
                f"{heading} has been escalated to you at level {level}.\n\n"
                "It is confidential: its details are shown only to its response team "
                "(the incident intake while it has no manager), compliance and "
                f"administrators.\n\n{incident_url(incident)}\n"
            ),
        )
    return (
        f"[{incident.priority}] Escalated to you: {incident.reference} {incident.title}",
        (
            f"{heading} has been escalated to you at level {level}.\n\n"
            f"Reason: {escalation.reason}\n\n{incident_url(incident)}\n"
        ),
    )


@transaction.atomic
def escalation_acknowledge(*, escalation, actor):
    """The person (or a member of the group) escalated to acknowledges; so may the team."""
    escalation = lock(escalation)
    if not queries.escalated_to(actor, escalation):
        require_on(actor, "incidents.change_escalation", escalation.incident)
    if escalation.acknowledged_at is not None:
        return escalation
    escalation.acknowledged_at = timezone.now()
    escalation.acknowledged_by = actor
    audited_save(escalation, actor=actor, reason="Escalation acknowledged")
    text = f"Escalation acknowledged by {person_name(actor)}"
    timeline(escalation.incident, TimelineEntry.Kind.ESCALATION, text, actor=actor)
    return escalation


def escalate_overdue(*, actor, now=None):
    """Escalate, once per rule, every open incident past its acknowledge target.

    Safe on several machines at once: each incident is locked with SKIP LOCKED
    (a busy one is left to whoever holds it), and a unique index on
    (incident, rule) for automatic escalations makes a duplicate impossible.
    Returns the escalations created.

    The rules escalate, not `actor`: it is recorded as whoever ran the timer (the
    system user by default) and its permissions are not asked, so a confidential
    incident outside its team is escalated too. Only the cron command calls this.
    """
    created = []
    for incident_id, rule in queries.overdue_for_escalation(now=now):
        try:
            with transaction.atomic():
                escalation = _escalate_by_rule(incident_id, rule, actor=actor)
        except IntegrityError:
            # Another machine escalated it between our check and our insert.
            continue
        if escalation is not None:
            created.append(escalation)
    return created


def _escalate_by_rule(incident_id, rule, *, actor):
    """One automatic escalation, unless someone else holds the incident or the rule has
    escalated it already."""
    locked = Incident.objects.select_for_update(skip_locked=True).filter(pk=incident_id).first()
    if (
        locked is None
        or Escalation.objects.filter(incident_id=incident_id, rule=rule, automatic=True).exists()
    ):
        return None
    target = ResponseTarget.objects.filter(priority=locked.priority).first()
    minutes = target.acknowledge_minutes if target else 0
    return _escalate(
        incident=locked,
        actor=actor,
        level=rule.level,
        to_user=rule.to_user,
        to_group=rule.to_group,
        reason=f"Not acknowledged within the {locked.priority} target of {minutes} minutes.",
        automatic=True,
        rule=rule,
    )

"""Every change to an incident goes through here: the rules, the timeline, the history reason, the emails."""

import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import InvalidInput, NotPermitted, TransitionNotAllowed
from core.history import stamp
from core.mail import email_queue, header_value, parse_addresses
from core.models import OutgoingEmail
from plans import queries as plan_queries
from plans import services as plan_services

from .models import (
    PLACEHOLDERS,
    REOPEN_FROM,
    TRANSITIONS,
    Action,
    Communication,
    Escalation,
    Incident,
    PostIncidentReview,
    ReferenceCounter,
    ResponseTarget,
    Status,
    TeamMember,
    TimelineEntry,
    template_placeholders,
)

User = get_user_model()

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


def _save(instance, *, actor, reason="", **save_kwargs):
    instance.full_clean()
    stamp(instance, actor=actor, reason=reason)
    instance.save(**save_kwargs)
    return instance


def _lock(incident):
    return Incident.objects.select_for_update().get(pk=incident.pk)


def _timeline(incident, *, kind, text, actor):
    entry = TimelineEntry(incident=incident, kind=kind, text=text, author=_person(actor))
    return _save(entry, actor=actor)


def _person(actor):
    return actor if actor is not None and actor.is_authenticated else None


def _mail(subject, body, recipients, *, about):
    """Queue the email about `about` (an escalation, a communication), sent once this commits.

    The outbox row records whether it was delivered; a failure lands on the
    incident's timeline (incidents.receivers) and is retried (core.mail).
    """
    return email_queue(subject=subject, body=body, recipients=recipients, about=about)


def _next_reference(year):
    """INC-YYYY-NNNN from a per-year counter row, locked while the number is taken."""
    counter, _ = ReferenceCounter.objects.get_or_create(year=year)
    counter = ReferenceCounter.objects.select_for_update().get(pk=counter.pk)
    counter.last_number += 1
    counter.save()
    return f"INC-{year}-{counter.last_number:04d}"


def incident_url(incident):
    return f"{settings.SITE_URL}/admin/incidents/incident/{incident.pk}/change/"


@transaction.atomic
def incident_report(
    *,
    actor,
    title,
    description,
    occurred_at,
    category,
    impact=3,
    urgency=3,
    affected_service="",
    observed_impact="",
    actions_taken="",
    anonymous=False,
    confidential=False,
    reported_at=None,
):
    """File a report. The reporter is kept even when anonymous (compliance may see it)."""
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
        reporter=_person(actor),
    )
    if category is not None and category.plan_id:
        incident.plan_version = plan_queries.version_in_force(category.plan, now)
    incident.reference = "pending"
    incident.full_clean(exclude=["reference"])
    incident.reference = _next_reference(now.year)
    stamp(incident, actor=actor, reason="Reported")
    incident.save()
    _timeline(
        incident,
        kind=TimelineEntry.Kind.NOTE,
        text="Reported"
        + (" late" if incident.is_late else "")
        + (" anonymously" if anonymous else ""),
        actor=None if anonymous else actor,
    )
    return incident


@transaction.atomic
def incident_update(*, incident, actor, reason="", **fields):
    """Change descriptive fields; priority follows impact and urgency."""
    unknown = set(fields) - set(DESCRIPTIVE_FIELDS)
    if unknown:
        raise InvalidInput(f"These fields cannot be changed here: {', '.join(sorted(unknown))}.")
    incident = _lock(incident)
    before = incident.priority
    fields = {name: value for name, value in fields.items() if getattr(incident, name) != value}
    if not fields:
        return incident
    for name, value in fields.items():
        setattr(incident, name, value)
    _save(incident, actor=actor, reason=reason or "Edited")
    if incident.priority != before:
        _timeline(
            incident,
            kind=TimelineEntry.Kind.NOTE,
            text=f"Priority changed from {before} to {incident.priority}",
            actor=actor,
        )
    return incident


def allowed_transitions(incident):
    return sorted(TRANSITIONS.get(incident.status, set()))


@transaction.atomic
def incident_transition(*, incident, actor, status, reason=""):
    """Move an incident to its next phase: checked, stamped, on the timeline, with who and why."""
    incident = _lock(incident)
    current = Status(incident.status)
    try:
        target = Status(status)
    except ValueError as exc:
        raise InvalidInput(f"Unknown status {status!r}.", field="status") from exc
    if target not in TRANSITIONS.get(current, set()):
        raise TransitionNotAllowed(
            f"An incident cannot go from {current.label.lower()} to {target.label.lower()}."
        )
    reason = (reason or "").strip()
    if current in REOPEN_FROM and not reason:
        raise InvalidInput("Reopening needs a reason.", field="reason")
    if target == Status.CANCELLED and not reason:
        raise InvalidInput(
            "Cancelling needs a reason (duplicate, not an incident, …).", field="reason"
        )
    if target == Status.CLOSED and incident.priority in ("P1", "P2"):
        review = PostIncidentReview.objects.filter(incident=incident).first()
        if review is None or review.status != PostIncidentReview.ReviewStatus.COMPLETED:
            raise TransitionNotAllowed(
                f"A {incident.priority} incident cannot close before its post-incident review is completed."
            )
    now = timezone.now()
    stamp_field = {
        Status.TRIAGED: "acknowledged_at",
        Status.INVESTIGATING: "investigating_at",
        Status.CONTAINED: "contained_at",
        Status.ERADICATED: "eradicated_at",
        Status.RECOVERED: "recovered_at",
        Status.CLOSED: "closed_at",
        Status.CANCELLED: "cancelled_at",
    }[target]
    if current in REOPEN_FROM:
        incident.reopened_count += 1
        incident.closed_at = None
        incident.cancelled_at = None
    if getattr(incident, stamp_field) is None:
        setattr(incident, stamp_field, now)
    incident.status = target
    label = f"{current.label} → {target.label}"
    _save(incident, actor=actor, reason=f"{label}: {reason}" if reason else label)
    _timeline(
        incident,
        kind=TimelineEntry.Kind.STATUS_CHANGE,
        text=f"{label}" + (f" — {reason}" if reason else ""),
        actor=actor,
    )
    return incident


@transaction.atomic
def team_member_add(*, incident, actor, user, role=TeamMember.Role.RESPONDER):
    incident = _lock(incident)
    member, created = TeamMember.objects.get_or_create(
        incident=incident, user=user, defaults={"role": role}
    )
    if not created and member.role != role:
        member.role = role
        _save(member, actor=actor, reason="Role changed")
    elif created:
        stamp(member, actor=actor, reason="Added to the team")
        member.save()
    _timeline(
        incident,
        kind=TimelineEntry.Kind.TEAM,
        text=f"{user.get_full_name() or user.username} joined as {member.get_role_display()}",
        actor=actor,
    )
    return member


@transaction.atomic
def team_member_remove(*, member, actor, reason=""):
    incident = _lock(member.incident)
    name = member.user.get_full_name() or member.user.username
    stamp(member, actor=actor, reason=reason or "Removed from the team")
    member.delete()
    _timeline(incident, kind=TimelineEntry.Kind.TEAM, text=f"{name} left the team", actor=actor)


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
    if (to_user is None) == (to_group is None):
        raise InvalidInput("Escalate to exactly one person or one group.", field="to_user")
    if not (reason or "").strip():
        raise InvalidInput("Say why you escalate.", field="reason")
    incident = _lock(incident)
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
    )
    _save(escalation, actor=actor, reason="Automatic escalation" if automatic else "Escalated")
    target = to_user.get_full_name() or to_user.username if to_user else f"group {to_group.name}"
    _timeline(
        incident,
        kind=TimelineEntry.Kind.ESCALATION,
        text=f"Escalated to {target} (level {escalation.get_level_display()}): {escalation.reason}",
        actor=actor,
    )
    _mail(
        f"[{incident.priority}] Escalated to you: {incident.reference} {incident.title}",
        (
            f"{incident.reference} ({incident.priority}, {incident.get_status_display()}) has been "
            f"escalated to you at level {escalation.get_level_display()}.\n\n"
            f"Reason: {escalation.reason}\n\n{incident_url(incident)}\n"
        ),
        _escalation_recipients(escalation),
        about=escalation,
    )
    return escalation


@transaction.atomic
def escalation_acknowledge(*, escalation, actor):
    escalation = Escalation.objects.select_for_update().get(pk=escalation.pk)
    if escalation.acknowledged_at is not None:
        return escalation
    escalation.acknowledged_at = timezone.now()
    escalation.acknowledged_by = actor
    _save(escalation, actor=actor, reason="Escalation acknowledged")
    _timeline(
        escalation.incident,
        kind=TimelineEntry.Kind.ESCALATION,
        text=f"Escalation acknowledged by {actor.get_full_name() or actor.username}",
        actor=actor,
    )
    return escalation


def escalate_overdue(*, actor, now=None):
    """Escalate, once per rule, every open incident past its acknowledge target.

    Safe on several machines at once: each incident is locked with SKIP LOCKED
    (a busy one is left to whoever holds it), and a unique index on
    (incident, rule) for automatic escalations makes a duplicate impossible.
    Returns the escalations created.
    """
    from .queries import overdue_for_escalation

    created = []
    for incident_id, rule in overdue_for_escalation(now=now):
        try:
            with transaction.atomic():
                locked = (
                    Incident.objects.select_for_update(skip_locked=True)
                    .filter(pk=incident_id)
                    .first()
                )
                if (
                    locked is None
                    or Escalation.objects.filter(
                        incident_id=incident_id, rule=rule, automatic=True
                    ).exists()
                ):
                    continue
                target = ResponseTarget.objects.filter(priority=locked.priority).first()
                minutes = target.acknowledge_minutes if target else 0
                created.append(
                    incident_escalate(
                        incident=locked,
                        actor=actor,
                        level=rule.level,
                        to_user=rule.to_user,
                        to_group=rule.to_group,
                        reason=f"Not acknowledged within the {locked.priority} target of {minutes} minutes.",
                        automatic=True,
                        rule=rule,
                    )
                )
        except IntegrityError:
            # Another machine escalated it between our check and our insert.
            continue
    return created


@transaction.atomic
def timeline_note_add(*, incident, actor, text):
    if not (text or "").strip():
        raise InvalidInput("A note needs text.", field="text")
    return _timeline(_lock(incident), kind=TimelineEntry.Kind.NOTE, text=text.strip(), actor=actor)


def next_update_due(incident, target=None):
    """When stakeholders must next hear about this incident (None when closed or no target)."""
    if not incident.is_open:
        return None
    if target is None:
        target = ResponseTarget.objects.filter(priority=incident.priority).first()
    if target is None:
        return None
    since = incident.last_update_at or incident.acknowledged_at or incident.reported_at
    return since + datetime.timedelta(minutes=target.update_minutes)


def render_placeholders(text, incident):
    """Fill {placeholders} from the incident; only the documented ones exist."""
    unknown = template_placeholders(text) - set(PLACEHOLDERS)
    if unknown:
        raise InvalidInput(f"Unknown placeholder(s): {', '.join(sorted(unknown))}.")
    due = next_update_due(incident)
    manager = incident.incident_manager
    values = {
        "reference": incident.reference,
        "title": incident.title,
        "status": incident.get_status_display(),
        "priority": incident.priority,
        "category": incident.category.name,
        "incident_manager": (manager.get_full_name() or manager.username)
        if manager
        else "not assigned",
        "affected_service": incident.affected_service or "—",
        "next_update_due": timezone.localtime(due).strftime("%d %b %Y %H:%M %Z") if due else "—",
    }
    return text.format_map(values)


@transaction.atomic
def communication_send(
    *, incident, actor, template=None, subject="", body="", audience="", group=None
):
    """Render (from a template or as written), email the audience, log it and put it on the timeline."""
    incident = _lock(incident)
    if template is not None:
        subject = subject or template.subject
        body = body or template.body
    if not subject.strip() or not body.strip():
        raise InvalidInput("A communication needs a subject and a body (or a template).")
    # Stored as sent: on one line (a title with a line break fills {title}).
    subject = header_value(render_placeholders(subject, incident))
    body = render_placeholders(body, incident)
    typed = parse_addresses(audience, field="audience")
    addresses = list(typed)
    if group is not None:
        addresses += list(
            User.objects.filter(groups=group, is_active=True)
            .exclude(email="")
            .values_list("email", flat=True)
        )
    addresses = sorted(set(addresses))
    if not addresses:
        raise InvalidInput(
            "Name at least one recipient: email addresses or a group.", field="audience"
        )
    communication = Communication(
        incident=incident,
        template=template,
        audience=", ".join(typed),
        group=group,
        subject=subject,
        body=body,
        recipient_count=len(addresses),
        sent_by=actor,
    )
    _save(communication, actor=actor, reason="Communication sent")
    incident.last_update_at = communication.sent_at
    _save(incident, actor=actor, reason="Stakeholder update sent")
    _timeline(
        incident,
        kind=TimelineEntry.Kind.COMMUNICATION,
        text=f"Sent “{subject}” to {len(addresses)} recipient(s)",
        actor=actor,
    )
    _mail(subject, body, addresses, about=communication)
    return communication


@transaction.atomic
def action_create(*, incident, actor, kind, description, owner=None, due_date=None):
    incident = _lock(incident)
    action = Action(
        incident=incident, kind=kind, description=description, owner=owner, due_date=due_date
    )
    _save(action, actor=actor, reason="Action added")
    _timeline(
        incident,
        kind=TimelineEntry.Kind.ACTION,
        text=f"{action.get_kind_display()} action added: {description}",
        actor=actor,
    )
    return action


@transaction.atomic
def action_update(*, action, actor, **fields):
    allowed = {"kind", "description", "owner", "due_date", "status"}
    unknown = set(fields) - allowed
    if unknown:
        raise InvalidInput(f"These fields cannot be changed: {', '.join(sorted(unknown))}.")
    action = Action.objects.select_for_update().get(pk=action.pk)
    before = action.status
    for name, value in fields.items():
        setattr(action, name, value)
    if action.status == Action.ActionStatus.DONE and action.completed_at is None:
        action.completed_at = timezone.now()
    elif action.status != Action.ActionStatus.DONE:
        action.completed_at = None
    reason = f"Status {before} → {action.status}" if action.status != before else "Edited"
    _save(action, actor=actor, reason=reason)
    if action.status != before:
        _timeline(
            action.incident,
            kind=TimelineEntry.Kind.ACTION,
            text=f"Action “{action.description[:80]}” is now {action.get_status_display().lower()}",
            actor=actor,
        )
    return action


REVIEW_FIELDS = (
    "summary",
    "root_cause",
    "contributing_factors",
    "went_well",
    "went_badly",
    "lessons_learned",
    "plan_change_needed",
    "plan_change_description",
)


@transaction.atomic
def review_save(*, incident, actor, participants=None, **fields):
    """Create or edit the post-incident review while it is a draft."""
    unknown = set(fields) - set(REVIEW_FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown review fields: {', '.join(sorted(unknown))}.")
    incident = _lock(incident)
    review = PostIncidentReview.objects.filter(incident=incident).first() or PostIncidentReview(
        incident=incident
    )
    if review.status == PostIncidentReview.ReviewStatus.COMPLETED:
        raise TransitionNotAllowed("A completed review can no longer be edited.")
    for name, value in fields.items():
        setattr(review, name, value)
    _save(review, actor=actor, reason="Review edited")
    if participants is not None:
        stamp(review, actor=actor, reason="Participants changed")
        review.participants.set(participants)
    return review


@transaction.atomic
def review_complete(*, incident, actor):
    """Complete the review; when it asks for a plan change, the plan's owner gets a change request."""
    incident = _lock(incident)
    review = PostIncidentReview.objects.select_for_update().filter(incident=incident).first()
    if review is None:
        raise TransitionNotAllowed("Write the post-incident review before completing it.")
    if review.status == PostIncidentReview.ReviewStatus.COMPLETED:
        return review
    missing = [
        f for f in ("summary", "root_cause", "lessons_learned") if not getattr(review, f).strip()
    ]
    if missing:
        raise InvalidInput(
            "A completed review needs: " + ", ".join(m.replace("_", " ") for m in missing) + "."
        )
    review.status = PostIncidentReview.ReviewStatus.COMPLETED
    review.completed_at = timezone.now()
    review.completed_by = actor
    plan = incident.category.plan
    if review.plan_change_needed and plan is not None and review.plan_change_request_id is None:
        review.plan_change_request = plan_services.change_request_create(
            plan=plan,
            actor=actor,
            summary=f"{incident.reference}: {review.plan_change_description[:250]}",
            details=review.plan_change_description,
            source=f"Post-incident review of {incident.reference}",
            source_url=incident_url(incident),
        )
    _save(review, actor=actor, reason="Review completed")
    _timeline(
        incident, kind=TimelineEntry.Kind.REVIEW, text="Post-incident review completed", actor=actor
    )
    return review


def require_perm(actor, perm):
    if not actor.has_perm(perm):
        raise NotPermitted("You do not have permission to do this.")


def _who(addresses):
    shown = ", ".join(addresses[:3])
    return shown + (f" and {len(addresses) - 3} more" if len(addresses) > 3 else "")


@transaction.atomic
def email_delivery_record(*, email, actor):
    """Put a failed email about an escalation or a communication on its incident's timeline
    (and its delivery after all, when a retry succeeds), so nobody takes it as sent."""
    record = email.about
    if not isinstance(record, Communication | Escalation):
        return None
    failed = email.status == OutgoingEmail.Status.FAILED
    if not failed and email.attempts <= 1:
        return None  # delivered at the first attempt: the "sent" line already says so
    subject = f"Email “{email.subject}” to {_who(email.recipients)}"
    if not failed:
        text = f"{subject} delivered at attempt {email.attempts}."
    elif email.next_attempt_at:
        when = timezone.localtime(email.next_attempt_at).strftime("%d %b %Y %H:%M %Z")
        text = (
            f"{subject} failed (attempt {email.attempts} of {settings.EMAIL_MAX_ATTEMPTS}): "
            f"{email.last_error} — it will be retried from {when}."
        )
    else:
        text = (
            f"{subject} failed (attempt {email.attempts}, the last): {email.last_error} — "
            "nobody was told; send it again."
        )
    kind = (
        TimelineEntry.Kind.COMMUNICATION
        if isinstance(record, Communication)
        else TimelineEntry.Kind.ESCALATION
    )
    return _save(
        TimelineEntry(incident_id=record.incident_id, kind=kind, text=text, author=None),
        actor=actor,
    )

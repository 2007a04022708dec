"""Every change to an incident goes through here: the rules, the timeline, the history reason, the emails."""

import datetime
import hashlib
import json
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import InvalidInput, NotPermitted, StaleEdit, TransitionNotAllowed
from core.history import stamp
from core.mail import email_queue, header_value, parse_addresses
from core.models import OutgoingEmail
from core.roles import INCIDENT_INTAKE
from plans import queries as plan_queries
from plans import services as plan_services
from plans.models import PlanChangeRequest

from . import queries
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

# A report may leave its kind (category) to triage; past triage it has one (the
# `incident_classified_after_triage` constraint); cancelled before triage, never.
UNCLASSIFIED_STATUSES = (Status.REPORTED, Status.CANCELLED)
UNCLASSIFIED = "unclassified"

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


def _require(actor, perm, incident=None):
    """Refuse unless `actor` holds the model permission `perm` and, given an incident, may
    see it in full (`queries.can_see`), whichever interface asked (admin, API, command).

    Ask it on the locked row, so a confidentiality or team change made meanwhile counts.
    There is no "system" exemption here: scheduled work that must act whoever runs it
    (the escalation timer) calls the unchecked internal step itself, and `actor=None`
    (no person) is refused like anyone without the permission.
    """
    if actor is None or not actor.has_perm(perm):
        raise NotPermitted("You do not have permission to do this.")
    if incident is not None and not queries.can_see(actor, incident):
        raise NotPermitted("You may not work on this incident.")


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
    """Queue the email about `about` (an escalation, a communication, a new report), sent
    once this commits.

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
    _require(actor, "incidents.add_incident")
    if incident_manager is not None:
        _require(actor, "incidents.change_incident")
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
        incident_manager=incident_manager,
    )
    incident.plan_version = _plan_version(category, now)
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
    _mail(*intake_message(incident), _intake_recipients(), about=incident)
    return incident


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
    if incident.anonymous or reporter is None:
        reported_by = "anonymous"
    else:
        reported_by = reporter.get_full_name() or reporter.username
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
    unknown = set(fields) - set(DESCRIPTIVE_FIELDS)
    if unknown:
        raise InvalidInput(f"These fields cannot be changed here: {', '.join(sorted(unknown))}.")
    incident = _lock(incident)
    _require(actor, "incidents.change_incident", incident)
    before, was_confidential = incident.priority, incident.confidential
    fields = {name: value for name, value in fields.items() if getattr(incident, name) != value}
    if not fields:
        return incident
    for name, value in fields.items():
        setattr(incident, name, value)
    if "category" in fields:
        if incident.category is None and incident.status not in UNCLASSIFIED_STATUSES:
            raise InvalidInput(
                "An incident past triage keeps a category: choose another one.", field="category"
            )
        # Classified (or reclassified): the plan in force is the new category's.
        incident.plan_version = _plan_version(incident.category, incident.reported_at)
    _save(incident, actor=actor, reason=reason or "Edited")
    if incident.confidential and not was_confidential:
        _withdraw_change_request_text(incident, actor=actor)
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
    _require(actor, "incidents.change_incident", incident)
    current = Status(incident.status)
    try:
        target = Status(status)
    except ValueError as exc:
        raise InvalidInput(f"Unknown status {status!r}.", field="status") from exc
    if target not in TRANSITIONS.get(current, set()):
        raise TransitionNotAllowed(
            f"An incident cannot go from {current.label.lower()} to {target.label.lower()}."
        )
    if incident.category_id is None and target not in UNCLASSIFIED_STATUSES:
        raise TransitionNotAllowed(
            f"Classify the incident (choose its category) before it goes to {target.label.lower()}."
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
    _require(actor, "incidents.add_teammember", incident)
    if TeamMember.objects.filter(incident=incident, user=user).exists():
        _require(actor, "incidents.change_teammember", incident)
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
    _require(actor, "incidents.delete_teammember", incident)
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
    incident = _lock(incident)
    _require(actor, "incidents.add_escalation", incident)
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


def _escalate(*, incident, actor, level, reason, to_user, to_group, automatic, rule):
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
    )
    _save(escalation, actor=actor, reason="Automatic escalation" if automatic else "Escalated")
    target = to_user.get_full_name() or to_user.username if to_user else f"group {to_group.name}"
    _timeline(
        incident,
        kind=TimelineEntry.Kind.ESCALATION,
        text=f"Escalated to {target} (level {escalation.get_level_display()}): {escalation.reason}",
        actor=actor,
    )
    _mail(*escalation_message(escalation), _escalation_recipients(escalation), about=escalation)
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
    escalation = Escalation.objects.select_for_update().get(pk=escalation.pk)
    if not _addressed_to(escalation, actor):
        _require(actor, "incidents.change_escalation", escalation.incident)
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


def _addressed_to(escalation, actor):
    if actor is None or not actor.is_authenticated or not actor.is_active:
        return False
    if escalation.to_user_id is not None:
        return escalation.to_user_id == actor.pk
    return actor.groups.filter(pk=escalation.to_group_id).exists()


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
                    _escalate(
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
    incident = _lock(incident)
    _require(actor, "incidents.add_timelineentry", incident)
    return _timeline(incident, kind=TimelineEntry.Kind.NOTE, text=text.strip(), actor=actor)


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
    # A template is written once for every incident and sent to whole audiences: for a
    # confidential incident its placeholders never pour its descriptive text into them.
    hidden = incident.confidential
    values = {
        "reference": incident.reference,
        "title": "Confidential incident" if hidden else incident.title,
        "status": incident.get_status_display(),
        "priority": incident.priority,
        "category": incident.category.name if incident.category else UNCLASSIFIED,
        "incident_manager": (manager.get_full_name() or manager.username)
        if manager
        else "not assigned",
        "affected_service": "confidential" if hidden else (incident.affected_service or "—"),
        "next_update_due": timezone.localtime(due).strftime("%d %b %Y %H:%M %Z") if due else "—",
    }
    return text.format_map(values)


@dataclass(frozen=True)
class RenderedCommunication:
    """A communication as it would be sent: what the preview shows and the send sends."""

    subject: str
    body: str
    typed: tuple  # the addresses typed, checked (stored as the communication's audience)
    recipients: tuple  # everyone it goes to: those and the group's members, sorted

    @property
    def digest(self):
        """A fingerprint of exactly this message to exactly these people."""
        text = json.dumps([self.subject, self.body, list(self.recipients)], ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()


def _render_communication(incident, *, template, subject, body, audience, group):
    if template is not None:
        subject = subject or template.subject
        body = body or template.body
    if not (subject or "").strip() or not (body or "").strip():
        raise InvalidInput("A communication needs a subject and a body (or a template).")
    typed = parse_addresses(audience, field="audience")
    addresses = set(typed)
    if group is not None:
        addresses.update(
            User.objects.filter(groups=group, is_active=True)
            .exclude(email="")
            .values_list("email", flat=True)
        )
    if not addresses:
        raise InvalidInput(
            "Name at least one recipient: email addresses or a group.", field="audience"
        )
    return RenderedCommunication(
        # Stored as sent: on one line (a title with a line break fills {title}).
        subject=header_value(render_placeholders(subject, incident)),
        body=render_placeholders(body, incident),
        typed=tuple(typed),
        recipients=tuple(sorted(addresses)),
    )


def communication_render(
    *, incident, actor, template=None, subject="", body="", audience="", group=None
):
    """The communication `communication_send` would send with these arguments, sending
    nothing: placeholders filled from the incident as it is now, addresses checked."""
    _require(actor, "incidents.add_communication", incident)
    return _render_communication(
        incident, template=template, subject=subject, body=body, audience=audience, group=group
    )


@transaction.atomic
def communication_send(
    *,
    incident,
    actor,
    template=None,
    subject="",
    body="",
    audience="",
    group=None,
    expected_digest=None,
):
    """Render (from a template or as written), queue the email to the audience, log it and
    put it on the timeline.

    `expected_digest` (the `digest` of the preview the sender read) refuses to send a
    message that has changed since (the incident's status, the group's members, …).
    """
    incident = _lock(incident)
    _require(actor, "incidents.add_communication", incident)
    rendered = _render_communication(
        incident, template=template, subject=subject, body=body, audience=audience, group=group
    )
    if expected_digest is not None and expected_digest != rendered.digest:
        raise StaleEdit(
            "The message or its recipients changed since the preview: check it and send again."
        )
    count = len(rendered.recipients)
    communication = Communication(
        incident=incident,
        template=template,
        audience=", ".join(rendered.typed),
        group=group,
        subject=rendered.subject,
        body=rendered.body,
        recipient_count=count,
        sent_by=actor,
    )
    _save(communication, actor=actor, reason="Communication sent")
    incident.last_update_at = communication.sent_at
    _save(incident, actor=actor, reason="Stakeholder update sent")
    # "Queued", not "sent": delivery is recorded when it happens (email_delivery_record).
    _timeline(
        incident,
        kind=TimelineEntry.Kind.COMMUNICATION,
        text=f"Communication “{rendered.subject}” to {count} recipient(s): email queued",
        actor=actor,
    )
    _mail(rendered.subject, rendered.body, list(rendered.recipients), about=communication)
    return communication


@transaction.atomic
def action_create(*, incident, actor, kind, description, owner=None, due_date=None):
    incident = _lock(incident)
    _require(actor, "incidents.add_action", incident)
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
    action = Action.objects.select_for_update().select_related("incident").get(pk=action.pk)
    _require(actor, "incidents.change_action", action.incident)
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
    verb = "add" if review.pk is None else "change"
    _require(actor, f"incidents.{verb}_postincidentreview", incident)
    if review.status == PostIncidentReview.ReviewStatus.COMPLETED:
        raise TransitionNotAllowed("A completed review can no longer be edited.")
    for name, value in fields.items():
        setattr(review, name, value)
    _save(review, actor=actor, reason="Review edited")
    if participants is not None:
        stamp(review, actor=actor, reason="Participants changed")
        review.participants.set(participants)
    return review


CONFIDENTIAL_CHANGE_REQUEST = {
    "summary": PlanChangeRequest.CONFIDENTIAL_SUMMARY,
    "details": (
        "The requested change is written in the incident's post-incident review. The incident "
        "is confidential: only its response team, compliance and administrators can open it "
        "from the link, so ask them for the details."
    ),
    "source": "Post-incident review of a confidential incident",
}


def change_request_text(incident, review):
    """What the plan change request a review files says (summary, details, source, link).

    A change request is read by everyone who reads the plan (its list, search, the open
    requests of each version, the admin), not only by the incident's team. So for a
    confidential incident it copies nothing of the incident: not the review's text, not
    its reference; only a link, which opens the incident for those who may see it.
    """
    if incident.confidential:
        return {**CONFIDENTIAL_CHANGE_REQUEST, "source_url": incident_url(incident)}
    return {
        "summary": f"{incident.reference}: {review.plan_change_description[:250]}",
        "details": review.plan_change_description,
        "source": f"Post-incident review of {incident.reference}",
        "source_url": incident_url(incident),
    }


def restate_confidential_change_requests(*, actor):
    """Restate every change request a confidential incident's review filed that still
    quotes it (filed before requests were written this way); returns how many. Idempotent."""
    reviews = (
        PostIncidentReview.objects.filter(
            incident__confidential=True, plan_change_request__isnull=False
        )
        .exclude(plan_change_request__summary=CONFIDENTIAL_CHANGE_REQUEST["summary"])
        .select_related("incident")
    )
    restated = 0
    for review in reviews:
        with transaction.atomic():
            _withdraw_change_request_text(review.incident, actor=actor)
        restated += 1
    return restated


def _withdraw_change_request_text(incident, *, actor):
    """An incident made confidential: its review's change request stops quoting it.

    (The request's history keeps what it said before, as every history does; it was
    written while the incident was open to all coordinators.)
    """
    review = PostIncidentReview.objects.filter(incident=incident).first()
    if review is None or review.plan_change_request_id is None:
        return
    plan_services.change_request_restate(
        change_request=review.plan_change_request,
        actor=actor,
        reason="Its incident became confidential",
        **CONFIDENTIAL_CHANGE_REQUEST,
    )


@transaction.atomic
def review_complete(*, incident, actor):
    """Complete the review; when it asks for a plan change, the plan's owner gets a change request."""
    incident = _lock(incident)
    _require(actor, "incidents.change_postincidentreview", incident)
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
    plan = incident.category.plan if incident.category else None
    if review.plan_change_needed and plan is not None and review.plan_change_request_id is None:
        review.plan_change_request = plan_services.change_request_create(
            plan=plan, actor=actor, **change_request_text(incident, review)
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
    """Put a failed email about an escalation, a communication or a new report (the intake's
    notice) on its incident's timeline (and its delivery after all, when a retry succeeds),
    so nobody takes it as sent.

    A communication's timeline line says its email was queued, so its delivery is put
    there too; an escalation's line says who it went to and a report's notice has none, so
    their delivery at the first attempt adds nothing.
    """
    record = email.about
    if not isinstance(record, Communication | Escalation | Incident):
        return None
    failed = email.status == OutgoingEmail.Status.FAILED
    if not failed and email.attempts <= 1 and isinstance(record, Escalation | Incident):
        return None
    subject = f"Email “{email.subject}” to {_who(email.recipients)}"
    if not failed and email.attempts <= 1:
        text = f"{subject} delivered."
    elif not failed:
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
    kind = {Communication: TimelineEntry.Kind.COMMUNICATION, Incident: TimelineEntry.Kind.NOTE}.get(
        type(record), TimelineEntry.Kind.ESCALATION
    )
    incident_id = record.pk if isinstance(record, Incident) else record.incident_id
    return _save(
        TimelineEntry(incident_id=incident_id, kind=kind, text=text, author=None),
        actor=actor,
    )

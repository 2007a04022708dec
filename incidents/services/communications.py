"""Telling stakeholders: communications rendered from templates, sent, and the outbox's word on delivery."""

import datetime
import hashlib
import json
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from core.errors import InvalidInput, StaleEdit
from core.history_diff import person_name
from core.mail import header_value, parse_addresses
from core.models import OutgoingEmail
from core.services import audited_save, lock

from ..models import (
    PLACEHOLDERS,
    Communication,
    Escalation,
    Incident,
    ResponseTarget,
    TimelineEntry,
    template_placeholders,
)
from .common import mail, require_on, timeline

User = get_user_model()

UNCLASSIFIED = "unclassified"


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
        "incident_manager": person_name(manager) if manager else "not assigned",
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
    require_on(actor, "incidents.add_communication", incident)
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
    incident = lock(incident)
    rendered = communication_render(
        incident=incident,
        actor=actor,
        template=template,
        subject=subject,
        body=body,
        audience=audience,
        group=group,
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
    audited_save(communication, actor=actor, reason="Communication sent")
    incident.last_update_at = communication.sent_at
    audited_save(incident, actor=actor, reason="Stakeholder update sent")
    # "Queued", not "sent": delivery is recorded when it happens (email_delivery_record).
    text = f"Communication “{rendered.subject}” to {count} recipient(s): email queued"
    timeline(incident, TimelineEntry.Kind.COMMUNICATION, text, actor=actor)
    mail((rendered.subject, rendered.body), list(rendered.recipients), about=communication)
    return communication


def _who(addresses):
    shown = ", ".join(addresses[:3])
    return shown + (f" and {len(addresses) - 3} more" if len(addresses) > 3 else "")


def _delivery_text(email):
    """The timeline's words for how `email` went (see email_delivery_record)."""
    subject = f"Email “{email.subject}” to {_who(email.recipients)}"
    if email.status != OutgoingEmail.Status.FAILED:
        if email.attempts <= 1:
            return f"{subject} delivered."
        return f"{subject} delivered at attempt {email.attempts}."
    if email.next_attempt_at:
        when = timezone.localtime(email.next_attempt_at).strftime("%d %b %Y %H:%M %Z")
        return (
            f"{subject} failed (attempt {email.attempts} of {settings.EMAIL_MAX_ATTEMPTS}): "
            f"{email.last_error} — it will be retried from {when}."
        )
    return (
        f"{subject} failed (attempt {email.attempts}, the last): {email.last_error} — "
        "nobody was told; send it again."
    )


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
    kind = {Communication: TimelineEntry.Kind.COMMUNICATION, Incident: TimelineEntry.Kind.NOTE}.get(
        type(record), TimelineEntry.Kind.ESCALATION
    )
    incident_id = record.pk if isinstance(record, Incident) else record.incident_id
    entry = TimelineEntry(incident_id=incident_id, kind=kind, text=_delivery_text(email))
    return audited_save(entry, actor=actor)

"""What every incident service shares: the permission on an incident, its timeline, its link."""

from django.conf import settings
from django.urls import reverse

from core.errors import NotPermitted
from core.mail import email_queue
from core.services import audited_save, require

from .. import queries
from ..models import TimelineEntry


def require_on(actor, perm, incident):
    """Refuse unless `actor` holds the model permission `perm` (core.services.require) and may
    see `incident` in full (`queries.can_see`), whichever interface asked (admin, API, command).

    Ask it on the locked row, so a confidentiality or team change made meanwhile counts.
    There is no "system" exemption here: scheduled work that must act whoever runs it
    (the escalation timer) calls the unchecked internal step itself, and `actor=None`
    (no person) is refused like anyone without the permission.
    """
    require(actor, perm)
    if not queries.can_see(actor, incident):
        raise NotPermitted("You may not work on this incident.")


def person(actor):
    """The acting user as a person to name, or None for no one (the system, an anonymous call)."""
    return actor if actor is not None and actor.is_authenticated else None


def timeline(incident, kind, text, *, actor):
    """Put one line on `incident`'s timeline, written by `actor` (or by no one)."""
    entry = TimelineEntry(incident=incident, kind=kind, text=text, author=person(actor))
    return audited_save(entry, actor=actor)


def incident_url(incident):
    """The incident's page in the admin, as a link in an email (settings.SITE_URL)."""
    return settings.SITE_URL + reverse("admin:incidents_incident_change", args=[incident.pk])


def mail(message, recipients, *, about):
    """Queue the email `message` (subject, body) about `about` (an escalation, a communication,
    a new report), sent once this commits.

    The outbox row records whether it was delivered; a failure lands on the incident's
    timeline (incidents.receivers) and is retried (core.mail).
    """
    subject, body = message
    return email_queue(subject=subject, body=body, recipients=recipients, about=about)

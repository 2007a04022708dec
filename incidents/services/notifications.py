"""Telling people when it concerns them: the incident manager and new team members when they are
named, an action's owner when it is given to them and when it falls due.

Every notice is an email queued with `core.mail.email_queue` (an outbox row, delivered by the
`deliver_email` task once the naming commits: a rolled-back step emails no one). Never twice:
the services call these only when the person actually changes (naming the same manager again,
re-adding a member, saving an action with the same owner sends nothing), and the due reminder
is stamped on the action (`due_reminder_sent_for`), once per due date: a new due date earns a
new reminder.

For a confidential incident a notice names the reference and the link only, as the intake's
notice does: the page shows the rest to those who may see it.
"""

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.history_diff import person_name
from core.services import audited_save

from ..models import Action
from .common import incident_url, mail


def _about(incident):
    return incident.reference if incident.confidential else f"{incident.reference} {incident.title}"


def _body(lines, incident):
    if incident.confidential:
        lines = [*lines, "", "It is confidential: its details are shown only on its page."]
    return "\n".join([*lines, "", incident_url(incident)]) + "\n"


def _address(user):
    return [user.email] if user is not None and user.is_active and user.email else []


def notify_manager_named(incident, user, *, actor):
    """Tell `user` they now manage `incident` (called only when the manager changes to them)."""
    if user is None or (actor is not None and user.pk == getattr(actor, "pk", None)):
        return None
    subject = f"[{incident.priority}] You are the incident manager of {_about(incident)}"
    lines = [
        f"{person_name(actor) if actor else 'The system'} named you incident manager of {incident.reference}."
    ]
    return mail((subject, _body(lines, incident)), _address(user), about=incident)


def notify_team_member_added(member, *, actor):
    """Tell a new member of the response team (not one whose role changed)."""
    incident, user = member.incident, member.user
    if actor is not None and user.pk == getattr(actor, "pk", None):
        return None
    subject = f"[{incident.priority}] You joined the response team of {_about(incident)}"
    lines = [
        f"{person_name(actor) if actor else 'The system'} added you to the response team of "
        f"{incident.reference} as {member.get_role_display()}."
    ]
    return mail((subject, _body(lines, incident)), _address(user), about=incident)


def _action_lines(action):
    incident = action.incident
    due = action.due_date.strftime("%d %b %Y") if action.due_date else "no due date"
    what = "(confidential)" if incident.confidential else action.description
    return [f"{action.get_kind_display()} action on {incident.reference}: {what}", f"Due: {due}"]


def notify_action_owner(action, *, actor):
    """Tell an action's new owner it is theirs (called only when the owner changes to them)."""
    owner, incident = action.owner, action.incident
    if owner is None or (actor is not None and owner.pk == getattr(actor, "pk", None)):
        return None
    subject = f"[{incident.priority}] An action on {_about(incident)} is yours"
    lines = [
        f"{person_name(actor) if actor else 'The system'} gave you an action.",
        *_action_lines(action),
    ]
    return mail((subject, _body(lines, incident)), _address(owner), about=incident)


def actions_falling_due(today):
    """Outstanding actions with an owner, due today or earlier, not yet reminded of this due date."""
    return (
        Action.objects.filter(
            status__in=Action.OUTSTANDING,
            owner__isnull=False,
            due_date__isnull=False,
            due_date__lte=today,
        )
        .exclude(due_reminder_sent_for=F("due_date"))
        .order_by("due_date", "pk")
    )


def action_due_remind(*, actor, today=None):
    """Remind each outstanding action's owner once its due date has come, once per due date.

    Run by the scheduler (`manage.py remind_due_actions`). Each action is locked with SKIP
    LOCKED and stamped with the due date it was reminded of in the same transaction as its
    email is queued, so runs on several machines never remind anyone twice; moving the due
    date makes a new reminder due then. Returns the actions reminded.
    """
    today = today or timezone.localdate()
    reminded = []
    for action_id in list(actions_falling_due(today).values_list("pk", flat=True)):
        with transaction.atomic():
            action = (
                Action.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("incident", "owner")
                .filter(pk=action_id)
                .first()
            )
            if (
                action is None
                or action.status not in Action.OUTSTANDING
                or action.owner is None
                or action.due_date is None
                or action.due_date > today
                or action.due_reminder_sent_for == action.due_date
            ):
                continue
            action.due_reminder_sent_for = action.due_date
            audited_save(action, actor=actor, reason=f"Due reminder sent ({action.due_date})")
            incident = action.incident
            late = "is due today" if action.due_date == today else "is overdue"
            subject = f"[{incident.priority}] Your action on {_about(incident)} {late}"
            mail(
                (subject, _body(["Your action " + late + ".", *_action_lines(action)], incident)),
                _address(action.owner),
                about=incident,
            )
            reminded.append(action)
    return reminded

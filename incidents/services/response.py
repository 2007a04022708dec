"""The response team's work on an incident: its members, its actions, notes on its timeline."""

from django.db import transaction
from django.utils import timezone

from core.errors import InvalidInput
from core.history import stamp
from core.history_diff import person_name
from core.services import audited_save, lock, model_update
from core.workflow import check_transition

from ..models import Action, Readiness, TeamMember, TimelineEntry
from .common import require_on, timeline
from .notifications import notify_action_owner, notify_team_member_added
from .readiness import readiness_record

# What an action's owner and the team may change (the admin's forms hand over these).
ACTION_FIELDS = ("kind", "description", "owner", "due_date", "status")


@transaction.atomic
def team_member_add(*, incident, actor, user, role=TeamMember.Role.RESPONDER):
    """Add `user` to the team, or change their role there. The member's first history row is
    its creation, with the actor and the reason (not a bare insert followed by an edit); adding
    someone already there in the same role changes nothing and records nothing."""
    incident = lock(incident)
    require_on(actor, "incidents.add_teammember", incident)
    member = TeamMember.objects.filter(incident=incident, user=user).first()
    if member is not None:
        require_on(actor, "incidents.change_teammember", incident)
        if member.role == role:
            return member
        member.role = role
        audited_save(member, actor=actor, reason="Role changed")
    else:
        member = TeamMember(incident=incident, user=user, role=role)
        audited_save(member, actor=actor, reason="Added to the team")
        notify_team_member_added(member, actor=actor)
    readiness_record(
        incident=incident, user=user, part=Readiness.Part.TEAM_MEMBER, role=role, actor=actor
    )
    text = f"{person_name(user)} joined as {member.get_role_display()}"
    timeline(incident, TimelineEntry.Kind.TEAM, text, actor=actor)
    return member


@transaction.atomic
def team_member_remove(*, member, actor, reason=""):
    incident = lock(member.incident)
    require_on(actor, "incidents.delete_teammember", incident)
    name = person_name(member.user)
    stamp(member, actor=actor, reason=reason or "Removed from the team")
    member.delete()
    timeline(incident, TimelineEntry.Kind.TEAM, f"{name} left the team", actor=actor)


@transaction.atomic
def action_create(*, incident, actor, kind, description, owner=None, due_date=None):
    incident = lock(incident)
    require_on(actor, "incidents.add_action", incident)
    action = Action(
        incident=incident, kind=kind, description=description, owner=owner, due_date=due_date
    )
    audited_save(action, actor=actor, reason="Action added")
    text = f"{action.get_kind_display()} action added: {description}"
    timeline(incident, TimelineEntry.Kind.ACTION, text, actor=actor)
    if owner is not None:
        notify_action_owner(action, actor=actor)
    return action


@transaction.atomic
def action_update(*, action, actor, **fields):
    """Change an action; done stamps its completion, any other status clears it."""
    action = lock(action, select_related=("incident",))
    require_on(actor, "incidents.change_action", action.incident)
    before, owner_before = action.status, action.owner_id
    status = fields.get("status", before)
    check_transition(action, status, allow_same=True)
    if status == Action.ActionStatus.DONE and action.completed_at is None:
        action.completed_at = timezone.now()
    elif status != Action.ActionStatus.DONE:
        action.completed_at = None
    reason = f"Status {before} → {status}" if status != before else "Edited"
    model_update(instance=action, actor=actor, fields=fields, allowed=ACTION_FIELDS, reason=reason)
    if action.owner_id is not None and action.owner_id != owner_before:
        notify_action_owner(action, actor=actor)
    if action.status != before:
        text = f"Action “{action.description[:80]}” is now {action.get_status_display().lower()}"
        timeline(action.incident, TimelineEntry.Kind.ACTION, text, actor=actor)
    return action


@transaction.atomic
def timeline_note_add(*, incident, actor, text):
    if not (text or "").strip():
        raise InvalidInput("A note needs text.", field="text")
    incident = lock(incident)
    require_on(actor, "incidents.add_timelineentry", incident)
    return timeline(incident, TimelineEntry.Kind.NOTE, text.strip(), actor=actor)

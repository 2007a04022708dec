"""Responder readiness (models.Readiness): recorded when a person takes a part in an incident.

Called by the services that give the part (team_member_add, and the incident manager set by
incident_report or incident_update), inside their transaction: one row per person and part
taken, with the actor who gave it. What "current" means on training is training's rule,
asked through core.discovery (`<app>.readiness.plan_training`), since incidents and
training are independent of each other.
"""

from django.utils import timezone

from core.discovery import app_modules
from core.services import audited_save
from plans.models import Acknowledgement

from ..models import Readiness


def _training(user, plan_id, now):
    required, missing = [], []
    for _config, module in app_modules("readiness"):
        ask = getattr(module, "plan_training", None)
        if ask is not None:
            more_required, more_missing = ask(user, plan_id, now)
            required += more_required
            missing += more_missing
    return required, missing


def readiness_record(*, incident, user, part, actor, role=""):
    """Record whether `user` was ready to take `part` in `incident` now."""
    now = timezone.now()
    version = incident.plan_version
    acknowledged_at = required = missing = None
    if version is None:
        state, required, missing = Readiness.State.NO_PLAN, [], []
    else:
        acknowledged_at = (
            Acknowledgement.objects.filter(user=user, version=version)
            .values_list("acknowledged_at", flat=True)
            .first()
        )
        required, missing = _training(user, version.plan_id, now)
        ready = acknowledged_at is not None and not missing
        state = Readiness.State.READY if ready else Readiness.State.NOT_READY
    row = Readiness(
        incident=incident,
        user=user,
        part=part,
        role=role,
        recorded_at=now,
        plan_version=version,
        acknowledged_at=acknowledged_at,
        courses_required=required,
        courses_missing=missing,
        state=state,
    )
    audited_save(row, actor=actor, reason=f"Readiness when made {Readiness.Part(part).label.lower()}")
    return row

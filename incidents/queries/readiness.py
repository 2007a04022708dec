"""Responder readiness: what the team inline, the review and the metrics read of models.Readiness."""

from django.db.models import (
    Exists,
    OuterRef,
    Subquery,
)

from ..models import (
    Readiness,
)

# -- responder readiness (models.Readiness) -------------------------------------------------


def _latest_readiness(part=None):
    rows = Readiness.objects.filter(
        incident_id=OuterRef("incident_id"), user_id=OuterRef("user_id")
    )
    if part is not None:
        rows = rows.filter(part=part)
    return rows.order_by("-recorded_at", "-id")


def with_readiness(members):
    """Team members annotated with their newest readiness record: `readiness_state`,
    `readiness_acknowledged_at`, `readiness_missing` (one query with the rows)."""
    latest = _latest_readiness(Readiness.Part.TEAM_MEMBER)
    return members.annotate(
        readiness_state=Subquery(latest.values("state")[:1]),
        readiness_acknowledged_at=Subquery(latest.values("acknowledged_at")[:1]),
        readiness_plan_version=Subquery(latest.values("plan_version_id")[:1]),
        readiness_missing=Subquery(latest.values("courses_missing")[:1]),
    )


def readiness_words(state, acknowledged_at, missing, has_plan=True):
    """How a readiness record reads: "Ready", "Not ready: plan not acknowledged; overdue on
    First aid", "No plan in force", "—" (none recorded)."""
    if not state:
        return "—"
    if state == Readiness.State.NO_PLAN:
        return "No plan in force"
    if state == Readiness.State.READY:
        return "Ready (plan acknowledged, training current)"
    gaps = []
    if acknowledged_at is None:
        gaps.append("plan not acknowledged")
    for course in missing or []:
        gaps.append(f"{course.get('state', 'not current')} on {course.get('title')}")
    return "Not ready: " + "; ".join(gaps)


def fully_ready(incidents):
    """Incidents whose every readiness record (each person as they took their part) was
    ready: "handled by a team fully current on its plan". Incidents with none recorded, or
    with no plan in force, are not counted as such."""
    not_ready = Readiness.objects.filter(incident_id=OuterRef("pk")).exclude(
        state=Readiness.State.READY
    )
    any_row = Readiness.objects.filter(incident_id=OuterRef("pk"))
    return incidents.filter(Exists(any_row), ~Exists(not_ready))

"""Demo data of training: a quarterly drill and a yearly awareness course required of Staff,
with past sessions and records so the compliance view shows every state."""

import datetime

from django.contrib.auth.models import Group
from django.utils import timezone

from core.roles import STAFF

from . import services
from .models import Course, Record

DRILL = "Quarterly incident response drill"
AWARENESS = "Annual security awareness briefing"
DRILL_ABOUT = "A 90-minute simulated incident walked through with the on-call team."
AWARENESS_ABOUT = "What an incident is, how to report one, and what happens next."


def _session(actor, course, days_ago, **fields):
    starts = (timezone.now() - datetime.timedelta(days=days_ago)).replace(
        hour=10, minute=0, second=0, microsecond=0
    )
    return services.session_create(
        actor=actor,
        course=course,
        starts_at=starts,
        ends_at=starts + datetime.timedelta(hours=2),
        status="completed" if days_ago > 0 else "scheduled",
        **fields,
    )


def _complete(actor, users, session, names, score=None):
    for name in names:
        services.record_register(
            actor=actor,
            user=users[name],
            session=session,
            status=Record.Status.COMPLETED,
            score=score,
            reason="Demo data",
        )


def load(stdout, actor=None, context=None):
    """Create the demo courses, sessions and records (idempotent: skipped when present)."""
    users = (context or {}).get("core", {})
    plan = ((context or {}).get("plans") or {}).get("plan")
    if Course.objects.filter(title=DRILL).exists():
        stdout.write("  training: demo courses already present")
        return {}
    coordinator = users["coordinator"]
    staff = Group.objects.get(name=STAFF)
    drill, awareness = (
        services.course_create(
            actor=coordinator,
            title=title,
            kind=kind,
            description=about,
            validity_days=days,
            required_for=[staff],
            plan=trains,
        )
        for title, kind, days, about, trains in (
            (DRILL, Course.Kind.DRILL, 90, DRILL_ABOUT, plan),
            (AWARENESS, Course.Kind.AWARENESS, 365, AWARENESS_ABOUT, None),
        )
    )
    # Awareness: 300 days ago → current; 350 → due soon; 400 → overdue; the rest never.
    for days_ago, names in (
        (300, ["alex", "jordan", "coordinator"]),
        (350, ["priya"]),
        (400, ["tomasz"]),
    ):
        session = _session(
            coordinator, awareness, days_ago, title="Awareness briefing", location="Room 2"
        )
        _complete(coordinator, users, session, names)
    # Drill: 20 days ago → current; 75 → due soon; 120 → overdue.
    recent = _session(
        coordinator,
        drill,
        20,
        title="Ransomware on the file server",
        location="Operations room",
        facilitator=coordinator,
        scenario="Files on the shared drive are being encrypted; a ransom note appears.",
        objectives="Detect within 15 minutes\nEscalate to the incident manager\nIsolate the server",
        evaluation_criteria="Times measured from the first alert.",
    )
    _complete(coordinator, users, recent, ["staff", "alex", "coordinator"], score=85)
    services.record_register(
        actor=coordinator, user=users["li"], session=recent, status=Record.Status.NO_SHOW
    )
    _complete(coordinator, users, _session(coordinator, drill, 75, title="Phishing"), ["jordan"])
    _complete(coordinator, users, _session(coordinator, drill, 120, title="Lost laptop"), ["amina"])
    evaluation = services.evaluation_save(
        session=recent,
        actor=coordinator,
        time_to_detect=datetime.timedelta(minutes=12),
        time_to_escalate=datetime.timedelta(minutes=25),
        time_to_contain=datetime.timedelta(hours=1, minutes=10),
        findings="Detection was quick; nobody knew who the level 2 contact was.",
    )
    for objective, met in zip(recent.objective_list, (True, False, True), strict=True):
        services.objective_result_save(
            evaluation=evaluation, actor=coordinator, objective=objective, met=met
        )
    services.improvement_action_save(
        evaluation=evaluation,
        actor=coordinator,
        description="Name the on-call rota in the escalation section of the plan.",
        owner=coordinator,
        due_date=timezone.localdate() + datetime.timedelta(days=30),
        plan=plan,
    )
    upcoming = _session(coordinator, drill, -14, title="Next quarterly drill", location="Room 1")
    for name in ("staff", "priya", "li"):
        services.record_register(actor=coordinator, user=users[name], session=upcoming)
    stdout.write(
        f"  training: {drill} (90 days) and {awareness} (365 days) required of Staff; "
        "people in every compliance state"
    )
    return {"drill": drill, "awareness": awareness}

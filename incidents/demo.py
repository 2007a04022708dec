"""Demo data of the incidents app: categories, targets, rules, templates and ~30 incidents in every status.

Everything goes through the services, on a demo clock that walks through the
past months, so timelines, phase times, metrics and history look real.
"""

import datetime
import random
from contextlib import contextmanager
from unittest import mock

from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from core.roles import COORDINATORS
from core.services import audited_save

from . import services
from .models import (
    Category,
    EscalationRule,
    Incident,
    MessageTemplate,
    Obligation,
    ResponseTarget,
    Status,
    TeamMember,
)
from .models.obligations import SEEDED_OBLIGATIONS

CATEGORIES = [
    ("Security", "Intrusions, malware, phishing, stolen credentials."),
    ("Availability", "Outages and degraded service."),
    ("Data loss", "Lost, corrupted or leaked data."),
    ("Safety", "Harm or risk of harm to people."),
    ("Privacy", "Personal data handled against the rules."),
]
TARGETS = {  # minutes: acknowledge, contain, recover, update
    "P1": (15, 240, 1440, 60),
    "P2": (60, 480, 2880, 240),
    "P3": (240, 2880, 10080, 1440),
    "P4": (1440, 10080, 20160, 4320),
}
TEMPLATES = [
    (
        "Initial notification",
        "A new incident has been declared",
        "[{priority}] {reference}: {title}",
        "We are responding to {reference} ({title}), priority {priority}, affecting {affected_service}.\n"
        "Incident manager: {incident_manager}. Next update by {next_update_due}.",
    ),
    (
        "Status update",
        "Regular stakeholder update",
        "Update on {reference}: {status}",
        "{reference} is now {status}. Next update by {next_update_due}.",
    ),
    (
        "Resolved",
        "Service restored",
        "Resolved: {reference}",
        "{reference} ({title}) has been resolved. A post-incident review will follow.",
    ),
]
SCENARIOS = [
    ("Phishing email with credential form", "Security", "Email", 2, 2),
    ("Customer portal returns errors", "Availability", "Customer portal", 1, 1),
    ("Backup job failed for three nights", "Data loss", "Backups", 2, 3),
    ("Laptop stolen from car", "Security", "Endpoint", 3, 2),
    ("Payment API latency above 5 s", "Availability", "Payments", 2, 1),
    ("Spreadsheet with salaries emailed externally", "Privacy", "Email", 2, 2),
    ("Ransomware note on file server", "Security", "File server", 1, 1),
    ("Wet floor caused a fall in the warehouse", "Safety", "Warehouse", 3, 3),
    ("DNS misconfiguration after change", "Availability", "DNS", 2, 2),
    ("Old customer export left on public bucket", "Privacy", "Storage", 1, 2),
    ("VPN certificate expired", "Availability", "VPN", 3, 2),
    ("Suspicious admin login from abroad", "Security", "Identity", 2, 1),
    ("Database replica out of sync", "Data loss", "Database", 3, 3),
    ("Fire alarm fault in server room", "Safety", "Data centre", 2, 3),
    ("Mailing list sent to wrong audience", "Privacy", "Marketing tools", 3, 3),
]
# The phase each demo incident reaches, so every status is represented.
PATHS = [
    Status.REPORTED,
    Status.REPORTED,
    Status.TRIAGED,
    Status.TRIAGED,
    Status.INVESTIGATING,
    Status.INVESTIGATING,
    Status.INVESTIGATING,
    Status.CONTAINED,
    Status.CONTAINED,
    Status.ERADICATED,
    Status.RECOVERED,
    Status.RECOVERED,
    Status.CLOSED,
    Status.CLOSED,
    Status.CLOSED,
    Status.CLOSED,
    Status.CLOSED,
    Status.CLOSED,
    Status.CLOSED,
    Status.CLOSED,
    Status.CLOSED,
    Status.CLOSED,
    Status.CANCELLED,
    Status.CANCELLED,
    "reopened",
    Status.INVESTIGATING,
    Status.TRIAGED,
    Status.CONTAINED,
    Status.CLOSED,
    Status.REPORTED,
]
# How long ago each open demo incident was reported (by its index in PATHS, modulo).
OPEN_MINUTES_AGO = [50, 8, 150, 35, 400, 1300, 90, 600, 240, 2000, 700, 180]
ORDER = [
    Status.TRIAGED,
    Status.INVESTIGATING,
    Status.CONTAINED,
    Status.ERADICATED,
    Status.RECOVERED,
    Status.CLOSED,
]


@contextmanager
def clock(start):
    """A demo clock: `tick(minutes)` moves it on; services and history read it as now."""
    state = {"now": start}

    def tick(minutes):
        state["now"] += datetime.timedelta(minutes=minutes)
        return state["now"]

    with mock.patch("django.utils.timezone.now", lambda: state["now"]):
        yield tick


def load(stdout, actor=None, context=None):
    users = (context or {}).get("core", {})
    plan = ((context or {}).get("plans") or {}).get("plan")
    if Incident.objects.exists():
        stdout.write("  incidents: already present")
        return {}
    for name, description in CATEGORIES:
        category, _ = Category.objects.get_or_create(
            name=name, defaults={"description": description}
        )
        if plan is not None and category.plan_id is None:
            category.plan = plan
            audited_save(category, actor=actor, reason="Demo data: governed by the response plan")
    for priority, (ack, contain, recover, update) in TARGETS.items():
        if not ResponseTarget.objects.filter(priority=priority).exists():
            audited_save(
                ResponseTarget(
                    priority=priority,
                    acknowledge_minutes=ack,
                    contain_minutes=contain,
                    recover_minutes=recover,
                    update_minutes=update,
                ),
                actor=actor,
                reason="Demo data",
            )
    coordinators = Group.objects.get(name=COORDINATORS)
    if not EscalationRule.objects.exists():
        audited_save(
            EscalationRule(priority="P1", level="2", to_user=users.get("coordinator")), actor=actor
        )
        audited_save(EscalationRule(priority="P2", level="1", to_group=coordinators), actor=actor)
    for name, scenario, subject, body in TEMPLATES:
        if not MessageTemplate.objects.filter(name=name).exists():
            audited_save(
                MessageTemplate(name=name, scenario=scenario, subject=subject, body=body),
                actor=actor,
            )
    seed_obligations(actor)

    rng = random.Random(42)
    coordinator = users["coordinator"]
    reporters = [users[n] for n in ("staff", "alex", "jordan", "priya", "tomasz", "amina", "li")]
    categories = {c.name: c for c in Category.objects.all()}
    real_now = timezone.now()
    count = 0
    for index, goal in enumerate(PATHS):
        title, category, service, impact, urgency = SCENARIOS[index % len(SCENARIOS)]
        if goal in (Status.CLOSED, Status.CANCELLED, "reopened"):
            reported = real_now - datetime.timedelta(days=150 - index * 5, hours=rng.randint(0, 8))
            pace = 1.0
        else:
            # Open incidents reported from minutes to days ago, their steps squeezed into the
            # time since (at most ~3,100 minutes of ticks), so their targets spread: some met,
            # some pending, some at risk, a few breached.
            minutes_ago = OPEN_MINUTES_AGO[index % len(OPEN_MINUTES_AGO)]
            rng.randint(0, 8)  # keeps the closed incidents' draws as they were
            reported = real_now - datetime.timedelta(minutes=minutes_ago)
            pace = minutes_ago / 4000
        occurred = reported - datetime.timedelta(
            hours=rng.choice([1, 2, 5, 30, 50]) if index % 6 == 0 else rng.randint(0, 3)
        )
        with clock(reported) as tick:
            incident = services.incident_report(
                actor=reporters[index % len(reporters)],
                title=title,
                description=f"{title}. Noticed by a colleague and reported through the portal.",
                occurred_at=occurred,
                category=categories[category],
                impact=impact,
                urgency=urgency,
                affected_service=service,
                anonymous=index == 5,
                # The last one, filed confidential, waits for the intake (the coordinator).
                confidential=index == len(PATHS) - 1,
                reported_at=reported,
            )
            count += 1
            if goal == Status.REPORTED:
                continue
            tick(rng.randint(5, 90) * pace)
            services.incident_update(
                incident=incident, actor=coordinator, incident_manager=coordinator
            )
            if index == 9:
                # Marked confidential by its manager once the team is named.
                services.incident_update(
                    incident=incident,
                    actor=coordinator,
                    confidential=True,
                    reason="Demo: personal data involved",
                )
            services.team_member_add(
                incident=incident,
                actor=coordinator,
                user=users["alex"],
                role=TeamMember.Role.TECHNICAL_LEAD,
            )
            target = Status.CLOSED if goal == "reopened" else goal
            if target == Status.CANCELLED:
                services.incident_transition(
                    incident=incident,
                    actor=coordinator,
                    status=Status.CANCELLED,
                    reason="Duplicate of an earlier report",
                )
                continue
            for step in ORDER:
                if step == Status.CLOSED and incident.priority in ("P1", "P2"):
                    services.review_save(
                        incident=incident,
                        actor=coordinator,
                        summary=f"{title}: handled; service restored.",
                        root_cause="A change was made without a peer review.",
                        lessons_learned="Peer review every production change.",
                        went_well="Fast detection by staff.",
                        plan_change_needed=index == 12,
                        plan_change_description="Add a step to the escalation procedure for out-of-hours incidents."
                        if index == 12
                        else "",
                        participants=[coordinator, users["alex"]],
                    )
                    services.review_complete(incident=incident, actor=coordinator)
                tick(rng.randint(20, 600) * pace)
                incident = services.incident_transition(
                    incident=incident,
                    actor=coordinator,
                    status=step,
                    reason=f"Demo: moved to {step}",
                )
                if step == Status.INVESTIGATING:
                    services.timeline_note_add(
                        incident=incident,
                        actor=coordinator,
                        text="Logs collected; scope being assessed.",
                    )
                    services.action_create(
                        incident=incident,
                        actor=coordinator,
                        kind="containment",
                        description="Isolate the affected system",
                        owner=users["alex"],
                        due_date=(timezone.now() + datetime.timedelta(days=2)).date(),
                    )
                    services.attachment_add(
                        incident=incident,
                        actor=coordinator,
                        upload=SimpleUploadedFile(
                            f"{incident.reference}-first-look.log",
                            f"{occurred:%Y-%m-%dT%H:%M:%SZ} {service}: first errors seen\n".encode(),
                        ),
                    )
                if step == Status.CONTAINED and index % 3 == 0:
                    services.communication_send(
                        incident=incident,
                        actor=coordinator,
                        template=MessageTemplate.objects.get(name="Status update"),
                        audience="stakeholders@example.org",
                    )
                if index % 4 == 0 and step == Status.TRIAGED:
                    services.incident_escalate(
                        incident=incident,
                        actor=coordinator,
                        level="3",
                        to_group=coordinators,
                        reason="Customer impact; management must know.",
                    )
                if step == target:
                    break
            demo_obligations(incident, index, coordinator)
            if pace < 1 and index % 5:
                # Most open incidents had their last stakeholder update a little while ago.
                minutes_to_now = (real_now - timezone.now()).total_seconds() / 60
                tick(max(0.0, minutes_to_now - 5 * (1 + index % 7)))
                services.communication_send(
                    incident=incident,
                    actor=coordinator,
                    template=MessageTemplate.objects.get(name="Status update"),
                    audience="stakeholders@example.org",
                )
            if goal == "reopened":
                tick(60 * 24)
                services.incident_transition(
                    incident=incident,
                    actor=coordinator,
                    status=Status.INVESTIGATING,
                    reason="The problem came back",
                )
    stdout.write(f"  incidents: {count} incidents, {len(CATEGORIES)} categories, targets for P1–P4")
    return {}


def seed_obligations(actor):
    """The seeded notification obligations (GDPR, NIS2, DORA) on their categories, unless
    there (the data migration 0010 adds them where the categories already existed)."""
    by_key = {}
    for (
        key,
        category,
        name,
        authority,
        deliverable,
        hours,
        months,
        anchor,
        previous,
        cap,
    ) in SEEDED_OBLIGATIONS:
        category = Category.objects.filter(name=category).first()
        if category is None:
            continue
        existing = Obligation.objects.filter(category=category, name=name).first()
        if existing is None:
            existing = audited_save(
                Obligation(
                    category=category,
                    name=name,
                    authority=authority,
                    deliverable=deliverable,
                    deadline_hours=hours,
                    deadline_months=months,
                    anchor=anchor,
                    previous=by_key.get(previous),
                    cap_hours=cap,
                ),
                actor=actor,
                reason="Demo data: notification obligation",
            )
        by_key[key] = existing


def demo_obligations(incident, index, coordinator):
    """Some obligations met, one not applicable, one incident classified as major; the rest
    pending, at risk or breached as their clocks say."""
    obligations = {o.name: o for o in Obligation.objects.filter(category=incident.category_id)}
    closed = incident.status == Status.CLOSED

    def submit(name, recipient, reference):
        services.obligation_submit(
            incident=incident,
            obligation=obligations[name],
            actor=coordinator,
            recipient=recipient,
            reference=reference,
            text=f"{incident.reference}: {incident.title}. Scope, impact and measures taken.",
        )

    name = incident.category.name
    if name == "Security" and (closed or index % 2 == 0) and obligations:
        submit("NIS2 Art. 23 early warning", "CSIRT", f"EW-{incident.pk:04d}")
        if closed:
            submit("NIS2 Art. 23 incident notification", "CSIRT", f"IN-{incident.pk:04d}")
            submit("NIS2 Art. 23 final report", "CSIRT", f"FR-{incident.pk:04d}")
    if name == "Privacy" and obligations:
        gdpr = "GDPR Art. 33 personal-data breach notification"
        if index == 14:
            services.obligation_not_applicable(
                incident=incident,
                obligation=obligations[gdpr],
                actor=coordinator,
                reason="Business addresses only; no risk to people's rights (Art. 33(1)).",
            )
        elif closed:
            submit(gdpr, "Data protection authority", f"DPA-{incident.pk:04d}")
    if name == "Availability" and incident.priority == "P1":
        services.incident_classify_major(
            incident=incident, actor=coordinator, reason="Critical service down for customers."
        )

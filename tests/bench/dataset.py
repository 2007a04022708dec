"""The benchmark's dataset: a large organisation, scaled by one number.

At scale 1: 100,000 incidents with about ten history rows each (create,
assignment, edits and every phase change: ~1,000,000 history rows), 10,000
people in Staff (plus a few coordinators, approvers and compliance staff), 20
plans of 5 published versions each whose audience is Staff, ~60 % of the
audience acknowledging every version, 50 courses required of Staff and one
training record per person and course (500,000 records, with history).

`scale` multiplies the population counts (incidents, people, and so the
acknowledgements and training records that hang off people). The catalogue
(20 plans × 5 versions, 50 courses, 5 categories) stays the same at every
scale: a smaller organisation has fewer people, not fewer plans.

This is a fixture builder, not an app code path: it bulk-inserts rows and
their historical rows directly (bulk_create, simple_history's
bulk_create_with_history, and hand-built historical rows for incidents) so
the full scale builds in minutes. Plans go through the services (there are
only a hundred versions, and the database triggers guarding published text
accept only the workflow's order) on a clock that walks through the past.
"""

import datetime
import random
from contextlib import contextmanager
from dataclasses import dataclass, field
from unittest import mock

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from core.history import acting_as
from core.roles import COMPLIANCE, COORDINATORS, PLAN_APPROVERS, STAFF
from core.signing import system_proof
from incidents.demo import seed_obligations
from incidents.models import (
    PRIORITY_MATRIX,
    Category,
    Incident,
    ReferenceCounter,
    ResponseTarget,
    Status,
    TeamMember,
    TimelineEntry,
)
from plans import services as plan_services
from plans.models import Acknowledgement, PlanVersion
from training.models import Course, Record, Session

User = get_user_model()
Membership = User.groups.through
DAY = datetime.timedelta(days=1)
MINUTE = datetime.timedelta(minutes=1)

FIRST_NAMES = (
    "Ada Alan Alice Amir Ana Anna Ben Bruno Carla Chen Chloe Daniel David Elena Emma Eva "
    "Farah Felix Grace Hannah Hugo Ines Ivan Jack James Jana Jonas Julia Karim Kate Lea Leo "
    "Lucas Maria Mark Mia Nina Noah Olga Omar Paul Petra Priya Rosa Sam Sara Tom Yuki Zoe"
).split()
LAST_NAMES = (
    "Adams Ahmed Alvarez Andersen Baker Bauer Bianchi Brown Campbell Chen Clark Costa Davies "
    "Dubois Evans Fischer Fontaine Garcia Gomez Green Hall Hansen Harris Hoffmann Hughes "
    "Ivanova Jansen Jones Kaur Kelly Khan Kim King Kowalski Lambert Lee Lewis Lopez Martin "
    "Meyer Moreau Muller Murphy Nguyen Nielsen Novak OBrien Olsen Patel Perez Peters Petrov "
    "Popescu Rossi Ruiz Santos Schmidt Schneider Silva Smith Sousa Taylor Thomas Torres "
    "Turner Walker Wang Weber White Wilson Wood Wright Young Zhang Ziegler"
).split()

CATEGORIES = ("Security", "Availability", "Data loss", "Safety", "Privacy")
TARGETS = {  # minutes: acknowledge, contain, recover, update (as the demo)
    "P1": (15, 240, 1440, 60),
    "P2": (60, 480, 2880, 240),
    "P3": (240, 2880, 10080, 1440),
    "P4": (1440, 10080, 20160, 4320),
}
SCENARIOS = (
    ("Phishing email with credential form", "Email"),
    ("Customer portal returns errors", "Customer portal"),
    ("Backup job failed", "Backups"),
    ("Laptop stolen", "Endpoint"),
    ("Payment API latency above 5 s", "Payments"),
    ("Spreadsheet emailed externally", "Email"),
    ("Ransomware note on file server", "File server"),
    ("Fall in the warehouse", "Warehouse"),
    ("DNS misconfiguration after change", "DNS"),
    ("Customer export on a public bucket", "Storage"),
    ("VPN certificate expired", "VPN"),
    ("Suspicious admin login", "Identity"),
)
PHASES = (
    (Status.TRIAGED, "acknowledged_at"),
    (Status.INVESTIGATING, "investigating_at"),
    (Status.CONTAINED, "contained_at"),
    (Status.ERADICATED, "eradicated_at"),
    (Status.RECOVERED, "recovered_at"),
    (Status.CLOSED, "closed_at"),
)
VALIDITY_DAYS = (365, 180, 90, 730, None, 365, 365, 90, 180, 730)
KINDS = ("course", "awareness", "drill", "tabletop", "simulation")


@dataclass
class Spec:
    """What to build. Population counts are the full-scale ones times `scale`."""

    scale: float = 1.0
    incidents_full: int = 100_000
    people_full: int = 10_000
    plans: int = 20
    versions_per_plan: int = 5
    courses: int = 50
    acknowledged_share: float = 0.6
    seed: int = 7

    @property
    def incidents(self):
        return max(10, round(self.incidents_full * self.scale))

    @property
    def people(self):
        return max(10, round(self.people_full * self.scale))


@dataclass
class Dataset:
    """Handles the measures need (ids and users), and what was built."""

    spec: Spec
    now: datetime.datetime
    coordinator: object = None
    compliance: object = None
    incident_id: int = 0
    version_id: int = 0
    counts: dict = field(default_factory=dict)
    build_seconds: float = 0.0


@contextmanager
def clock(at):
    """Services, defaults and history read `at` as now."""
    with mock.patch("django.utils.timezone.now", lambda: at):
        yield


def _bulk(objs, model, **kwargs):
    """bulk_create_with_history in slices, so memory stays flat at any scale."""
    created = []
    step = 5000
    for start in range(0, len(objs), step):
        created.extend(
            bulk_create_with_history(objs[start : start + step], model, batch_size=1000, **kwargs)
        )
    return created


def _role_user(username, first, last, groups, **extra):
    user = User(
        username=username,
        first_name=first,
        last_name=last,
        email=f"{username}@bench.example.org",
        is_staff=True,
        **extra,
    )
    user.set_unusable_password()
    user.save()
    user.groups.add(*Group.objects.filter(name__in=groups))
    return user


def build_people(spec, data, rng):
    start = data.now - 6 * 365 * DAY
    coordinators = [
        _role_user(f"coord{i:02}", rng.choice(FIRST_NAMES), "Coordinator", [COORDINATORS, STAFF])
        for i in range(10)
    ]
    data.coordinator = _role_user(
        "bench-coordinator", "Bench", "Coordinator", [COORDINATORS, STAFF]
    )
    coordinators.append(data.coordinator)
    data.compliance = _role_user("bench-compliance", "Bench", "Auditor", [COMPLIANCE, STAFF])
    approver = _role_user("bench-approver", "Bench", "Approver", [PLAN_APPROVERS, STAFF])
    people = []
    for i in range(spec.people):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        person = User(
            username=f"staff{i:06}",
            first_name=first,
            last_name=last,
            email=f"{first.lower()}.{last.lower()}.{i}@bench.example.org",
            password="!",  # unusable
            is_active=rng.random() > 0.01,  # a few leavers
            date_joined=start + rng.random() * 5 * 365 * DAY,
        )
        person._history_date = person.date_joined
        people.append(person)
    people = _bulk(people, User, default_change_reason="Bench: hired")
    staff = Group.objects.get(name=STAFF)
    # Membership rows directly (a fixture): the audiences and required courses hang off Staff.
    Membership.objects.bulk_create(
        [Membership(user_id=p.pk, group_id=staff.pk) for p in people], batch_size=5000
    )
    return coordinators, approver, people


def build_plans(spec, data, rng, author, approver, people):
    """Plans through the services on a clock; each version's acknowledgements right after it
    is published (the triggers accept acknowledgements of the published version only)."""
    staff = Group.objects.get(name=STAFF)
    active = [p for p in people if p.is_active]
    step = 150 * DAY
    first_publication = data.now - spec.versions_per_plan * step
    acknowledgements = 0
    latest = []
    for p in range(spec.plans):
        at = first_publication - 10 * DAY + p * 3 * MINUTE
        with clock(at), acting_as(author):
            plan = plan_services.plan_create(
                actor=author,
                code=f"P{p:02}",
                title=f"Response plan {p:02}",
                owner=author,
                purpose="How we respond.",
                audience=[staff],
                acknowledgement_days=14,
            )
        version = plan.versions.get()
        for n in range(1, spec.versions_per_plan + 1):
            published_at = first_publication + (n - 1) * step + p * 3 * MINUTE
            if n > 1:
                with clock(published_at - 20 * DAY), acting_as(author):
                    version = plan_services.version_create_draft(plan=plan, actor=author)
                    section = version.sections.order_by("order").first()
                    plan_services.section_update(
                        section=section, actor=author, body=f"Revision {n}: {rng.random():.6f}"
                    )
                    plan_services.version_update(
                        version=version, actor=author, change_summary=f"Revision {n}."
                    )
            with clock(published_at - 10 * DAY), acting_as(author):
                version = plan_services.version_submit(
                    version=version, actor=author, proof=system_proof(author, "benchmark data")
                )
            with clock(published_at - 5 * DAY), acting_as(approver):
                version = plan_services.version_approve(
                    version=version, actor=approver, proof=system_proof(approver, "benchmark data")
                )
            with clock(published_at), acting_as(approver):
                version = plan_services.version_publish(
                    version=version, actor=approver, proof=system_proof(approver, "benchmark data")
                )
            version = PlanVersion.objects.select_related("plan").get(pk=version.pk)
            until = min(data.now, published_at + step) - MINUTE
            signers = rng.sample(active, round(len(active) * spec.acknowledged_share))
            acks = []
            for person in signers:
                signed = published_at + min(rng.expovariate(1 / 6), 140) * DAY
                if signed > until:
                    signed = until - rng.random() * DAY
                ack = Acknowledgement(
                    user_id=person.pk,
                    version_id=version.pk,
                    acknowledged_at=signed,
                    full_name=f"{person.first_name} {person.last_name}",
                    statement=version.statement,
                    content_hash=version.content_hash,
                    ip_address="10.0.0.1",
                    user_agent="bench",
                )
                ack._history_date = signed
                ack._history_user = person
                acks.append(ack)
            _bulk(acks, Acknowledgement, default_change_reason="Acknowledged")
            acknowledgements += len(acks)
        latest.append(version)
    data.version_id = latest[0].pk
    data.counts["plan_versions"] = spec.plans * spec.versions_per_plan
    data.counts["acknowledgements"] = acknowledgements
    return latest


def build_training(spec, data, rng, people, coordinators):
    staff = Group.objects.get(name=STAFF)
    courses = [
        Course(
            title=f"Course {c:02}: {KINDS[c % len(KINDS)]}",
            kind=KINDS[c % len(KINDS)],
            description="Bench course.",
            validity_days=VALIDITY_DAYS[c % len(VALIDITY_DAYS)],
            created_at=data.now - 900 * DAY,
        )
        for c in range(spec.courses)
    ]
    courses = _bulk(courses, Course, default_date=data.now - 900 * DAY)
    for course in courses:
        course.required_for.add(staff)
    sessions = []
    for course in courses:
        for k in range(8):  # completed sessions over the last two years, then one ahead
            starts = data.now - (730 - k * 90 - rng.randint(0, 30)) * DAY
            sessions.append(
                Session(
                    course=course,
                    title=f"{course.title} #{k + 1}",
                    starts_at=starts,
                    ends_at=starts + 2 * datetime.timedelta(hours=1),
                    facilitator=rng.choice(coordinators),
                    status=Session.Status.COMPLETED,
                    created_at=starts - 30 * DAY,
                )
            )
        starts = data.now + rng.randint(5, 60) * DAY
        sessions.append(
            Session(
                course=course,
                title=f"{course.title} (next)",
                starts_at=starts,
                ends_at=starts + 2 * datetime.timedelta(hours=1),
                facilitator=rng.choice(coordinators),
                created_at=data.now - 10 * DAY,
            )
        )
    sessions = _bulk(sessions, Session)
    by_course = {}
    for session in sessions:
        by_course.setdefault(session.course_id, []).append(session)
    records = 0
    batch = []

    def flush():
        nonlocal batch, records
        _bulk(batch, Record, default_change_reason="Bench: attendance")
        records += len(batch)
        batch = []

    for person in people:
        for course in courses:
            done, upcoming = by_course[course.pk][:-1], by_course[course.pk][-1]
            roll = rng.random()
            session = done[min(7, int(rng.random() ** 0.7 * 8))]
            record = Record(user_id=person.pk, course_id=course.pk, created_at=session.created_at)
            if roll < 0.88:
                record.session = session
                record.status = Record.Status.COMPLETED
                record.completed_at = session.ends_at
                record.score = rng.randint(60, 100)
                record.valid_until = course.expiry_of(session.ends_at)
            elif roll < 0.91:
                record.session = session
                record.status = Record.Status.FAILED
                record.completed_at = session.ends_at
                record.score = rng.randint(10, 59)
            elif roll < 0.94:
                record.session = session
                record.status = Record.Status.NO_SHOW
            else:
                record.session = upcoming
                record.status = Record.Status.REGISTERED
                record.created_at = upcoming.created_at
            record._history_date = record.completed_at or record.created_at
            batch.append(record)
        if len(batch) >= 20_000:
            flush()
    flush()
    data.counts["courses"] = len(courses)
    data.counts["training_records"] = records


def _phase_gap(priority, rng, target_minutes):
    """Minutes to the next phase: mostly inside the target, sometimes well past it."""
    factor = rng.uniform(0.1, 0.9) if rng.random() < 0.8 else rng.uniform(1.1, 3.0)
    return max(1.0, target_minutes * factor) * MINUTE


def build_incidents(spec, data, rng, people, coordinators, latest_versions):
    categories = [
        Category.objects.get_or_create(
            name=name, defaults={"description": name, "plan_id": latest_versions[0].plan_id}
        )[0]
        for name in CATEGORIES
    ]
    # The notification obligations as seeded (GDPR on Privacy, NIS2 and DORA on Security):
    # the list's worst-obligation column and filter work over them.
    seed_obligations(coordinators[0])
    for priority, (ack, contain, recover, update) in TARGETS.items():
        ResponseTarget.objects.get_or_create(
            priority=priority,
            defaults=dict(
                acknowledge_minutes=ack,
                contain_minutes=contain,
                recover_minutes=recover,
                update_minutes=update,
            ),
        )
    plan_versions = list(
        PlanVersion.objects.filter(plan_id=latest_versions[0].plan_id).order_by("published_at")
    )
    History = Incident.history.model
    span = 3 * 365 * DAY
    times = sorted(data.now - rng.random() * span for _ in range(spec.incidents))
    numbers = {}
    staff_ids = [p.pk for p in people]
    coordinator_ids = [c.pk for c in coordinators]
    history_rows = team_rows = 0
    chunk = 5000
    for start in range(0, len(times), chunk):
        incidents, plans_of = [], []
        for reported in times[start : start + chunk]:
            numbers[reported.year] = numbers.get(reported.year, 0) + 1
            title, service = rng.choice(SCENARIOS)
            impact, urgency = rng.choices((1, 2, 3, 4), (1, 3, 5, 4))[0], rng.randint(1, 4)
            priority = PRIORITY_MATRIX[(impact, urgency)]
            late = rng.random() < 0.05
            occurred = (
                reported - (rng.uniform(25, 300) if late else rng.uniform(0.1, 20)) * 60 * MINUTE
            )
            version = None
            for v in plan_versions:
                if v.published_at <= reported:
                    version = v
            incidents.append(
                Incident(
                    reference=f"INC-{reported.year}-{numbers[reported.year]:04d}",
                    title=title,
                    description=f"{title}. Observed by the service desk; details in the timeline. "
                    * 2,
                    affected_service=service,
                    observed_impact="Users affected.",
                    occurred_at=occurred,
                    reported_at=reported,
                    category=rng.choice(categories),
                    impact=impact,
                    urgency=urgency,
                    priority=priority,
                    status=Status.REPORTED,
                    is_late=late,
                    anonymous=rng.random() < 0.03,
                    confidential=rng.random() < 0.05,
                    reporter_id=rng.choice(staff_ids),
                    plan_version=version,
                    updated_at=reported,
                )
            )
            plans_of.append(version)
        histories = []
        for incident in incidents:
            history_rows_for = _lifecycle(incident, data.now, rng, coordinator_ids)
            histories.append(history_rows_for)
        # Plain bulk_create: the historical rows are built below, one per step of the story.
        Incident.objects.bulk_create(incidents, batch_size=1000)
        rows = []
        team = []
        for incident, steps in zip(incidents, histories, strict=True):
            for when, kind, reason, actor, values in steps:
                rows.append(
                    History(
                        id=incident.pk,
                        history_date=when,
                        history_type=kind,
                        history_change_reason=reason,
                        history_user_id=actor,
                        **values,
                    )
                )
            if incident.confidential or rng.random() < 0.1:
                members = {rng.choice(staff_ids), rng.choice(coordinator_ids)}
                if incident.confidential and rng.random() < 0.3:
                    members.add(data.coordinator.pk)
                members.discard(incident.incident_manager_id)
                for user_id in members:
                    member = TeamMember(
                        incident=incident,
                        user_id=user_id,
                        role=TeamMember.Role.RESPONDER,
                        added_at=incident.reported_at + 10 * MINUTE,
                    )
                    member._history_date = member.added_at
                    team.append(member)
        History.objects.bulk_create(rows, batch_size=2000)
        history_rows += len(rows)
        if team:
            bulk_create_with_history(team, TeamMember, batch_size=1000)
            team_rows += len(team)
    for year, number in numbers.items():
        ReferenceCounter.objects.update_or_create(year=year, defaults={"last_number": number})
    # The incident measured: a busy, closed one from last year, visible to the coordinator.
    closed = list(
        Incident.objects.filter(confidential=False, status=Status.CLOSED)
        .order_by("-reported_at")
        .values_list("pk", flat=True)[: len(times) // 20 + 1]
    )
    data.incident_id = closed[-1]
    data.counts["incidents"] = len(times)
    data.counts["incident_history"] = history_rows
    data.counts["team_members"] = team_rows


TRACKED = None


def _tracked_fields():
    global TRACKED
    if TRACKED is None:
        TRACKED = [f.attname for f in Incident.history.model.tracked_fields if f.attname != "id"]
    return TRACKED


def _lifecycle(incident, now, rng, coordinator_ids):
    """Walk one incident through its life; return its history steps and leave its final state.

    Old incidents are mostly closed (some cancelled); recent ones are spread over the open phases.
    """
    ack, contain, recover, update = TARGETS[incident.priority]
    targets = [ack, ack * 2, contain, contain, recover, recover * 2]
    age = now - incident.reported_at
    if age > 30 * DAY:
        roll = rng.random()
        last = 6 if roll < 0.92 else (5 if roll < 0.95 else -1)  # closed, recovered, cancelled
    else:
        last = rng.randint(0, 6)
    steps = []
    reporter = incident.reporter_id

    def snap(when, kind, reason, actor):
        incident.updated_at = when
        values = {name: getattr(incident, name) for name in _tracked_fields()}
        steps.append((when, kind, reason, actor, values))

    when = incident.reported_at
    snap(when, "+", "Reported", reporter)
    manager = rng.choice(coordinator_ids)
    when += rng.uniform(1, 10) * MINUTE
    if when > now:
        return steps
    incident.incident_manager_id = manager
    snap(when, "~", "Incident manager assigned", manager)
    cancel_at = rng.randint(1, 4) if last == -1 else None
    for index, (status, stamp_field) in enumerate(PHASES, start=1):
        if last != -1 and index > last:
            break
        when += _phase_gap(incident.priority, rng, targets[index - 1])
        if when > now:
            break
        if cancel_at is not None and index == cancel_at:
            incident.status = Status.CANCELLED
            incident.cancelled_at = when
            snap(when, "~", f"{Status(incident.status).label}: duplicate", manager)
            break
        previous = incident.status
        incident.status = status
        setattr(incident, stamp_field, when)
        snap(when, "~", f"{Status(previous).label} → {status.label}", manager)
        if index in (2, 4):  # an edit while investigating and after eradication
            incident.last_update_at = when + MINUTE
            incident.actions_taken = f"Step {index}: mitigations in place."
            snap(when + MINUTE, "~", "Edited", manager)
    return steps


def build_bundle_case(spec, data, author):
    """The measured incident's long timeline: 10,000 entries (and history rows) at full scale,
    what its evidence bundle must stream within MEMORY_TARGET_MB (issue 16). Bulk-written,
    as the rest of the dataset: their history rows carry no chain link (the bench measures
    the export, not the chain)."""
    count = max(50, round(10_000 * spec.scale))
    start = data.now - datetime.timedelta(days=30)
    entries = [
        TimelineEntry(
            incident_id=data.incident_id,
            kind=TimelineEntry.Kind.NOTE,
            text=f"Note {n}: checked the mail gateway logs for the next batch of recipients.",
            author=author,
            created_at=start + datetime.timedelta(seconds=n),
        )
        for n in range(count)
    ]
    _bulk(entries, TimelineEntry, default_user=author, default_change_reason="Bench note")
    data.counts["bundle_timeline"] = count


def build(spec, *, now=None, log=print):
    """Build the whole dataset in the current database; returns the handles for the measures."""
    import time

    started = time.perf_counter()
    rng = random.Random(spec.seed)
    data = Dataset(spec=spec, now=now or timezone.now())
    stage = started

    def done(what):
        nonlocal stage
        now_ = time.perf_counter()
        log(f"  built {what} in {now_ - stage:.1f} s")
        stage = now_

    with transaction.atomic():
        coordinators, approver, people = build_people(spec, data, rng)
    done(f"{len(people)} people")
    author = coordinators[0]
    latest = build_plans(spec, data, rng, author, approver, people)
    done(f"{spec.plans} plans x {spec.versions_per_plan} versions, acknowledgements")
    with transaction.atomic():
        build_training(spec, data, rng, people, coordinators)
    done(f"{spec.courses} courses, {data.counts['training_records']} training records")
    with transaction.atomic():
        build_incidents(spec, data, rng, people, coordinators, latest)
    done(f"{data.counts['incidents']} incidents, {data.counts['incident_history']} history rows")
    with transaction.atomic():
        build_bundle_case(spec, data, coordinators[0])
    done(f"{data.counts['bundle_timeline']} timeline entries on the measured incident")
    data.counts["people"] = len(people)
    if connection.vendor == "postgresql" and connection.get_autocommit():
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
            # Write the build's dirty pages out now, so the checkpointer is not flushing
            # gigabytes in the background while the measures run (needs superuser; skipped
            # otherwise).
            try:
                cursor.execute("CHECKPOINT")
            except DatabaseError:
                pass
        done("VACUUM ANALYZE, CHECKPOINT")
    else:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    data.build_seconds = time.perf_counter() - started
    return data

"""Every state change of plans, versions, sections and acknowledgements."""

import calendar
import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import (
    Conflict,
    FingerprintMismatch,
    ImmutableRecord,
    InvalidInput,
    NotPermitted,
    SeparationOfDuties,
    TransitionNotAllowed,
)
from core.history import stamp
from core.reminders import claimed_clock
from core.text import normalise_newlines

from . import queries
from .fingerprint import version_fingerprint
from .models import (
    Acknowledgement,
    AcknowledgementNotice,
    Plan,
    PlanChangeRequest,
    PlanVersion,
    ReminderClock,
    Review,
    Section,
)
from .template import STANDARD_SECTIONS

S = PlanVersion.Status

# The workflow table lives on the model (PlanVersion.pipeline).
TRANSITIONS = PlanVersion.pipeline

# Versions still being worked on: while one exists, no second draft may start.
WORK_IN_PROGRESS = (S.DRAFT, S.IN_REVIEW, S.APPROVED)

PLAN_FIELDS = (
    "code",
    "title",
    "purpose",
    "scope",
    "objectives",
    "owner",
    "review_interval_months",
    "acknowledgement_days",
)


def _save(instance, *, actor, reason="", exclude=None, **save_kwargs):
    instance.full_clean(exclude=exclude)
    stamp(instance, actor=actor, reason=reason)
    instance.save(**save_kwargs)
    return instance


def _require(actor, perm, message):
    if not actor.has_perm(perm):
        raise NotPermitted(message)


def _lock_version(version):
    return PlanVersion.objects.select_for_update().select_related("plan").get(pk=version.pk)


def _check_transition(version, target):
    if target not in TRANSITIONS[version.status]:
        raise TransitionNotAllowed(
            f"A version that is {version.get_status_display().lower()} cannot become "
            f"{S(target).label.lower()}."
        )


def add_months(day, months):
    """`day` plus whole months, clamped to the month's last day (31 Jan + 1 month = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return datetime.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


# Plans


@transaction.atomic
def plan_create(
    *,
    actor,
    code,
    title,
    owner=None,
    purpose="",
    scope="",
    objectives="",
    audience=(),
    review_interval_months=12,
    acknowledgement_days=14,
):
    """A new plan and its first draft, built from the standard eleven-section template."""
    _require(actor, "plans.add_plan", "You may not create plans.")
    plan = Plan(
        code=code,
        title=title,
        owner=owner or actor,
        purpose=purpose,
        scope=scope,
        objectives=objectives,
        review_interval_months=review_interval_months,
        acknowledgement_days=acknowledgement_days,
    )
    _save(plan, actor=actor, reason="Plan created")
    if audience:
        plan.audience.set(audience)
    version = PlanVersion(plan=plan, number=1, author=actor, change_summary="First version.")
    _save(version, actor=actor, reason="First draft from the standard template")
    for order, (key, heading, guidance) in enumerate(STANDARD_SECTIONS, start=1):
        section = Section(
            version=version, order=order, key=key, heading=heading, body="", guidance=guidance
        )
        _save(section, actor=actor, reason="Standard template")
    return plan


@transaction.atomic
def plan_update(*, plan, actor, audience=None, **fields):
    """Change a plan's descriptive fields and audience."""
    _require(actor, "plans.change_plan", "You may not change plans.")
    plan = Plan.objects.select_for_update().get(pk=plan.pk)
    unknown = set(fields) - set(PLAN_FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown fields: {', '.join(sorted(unknown))}.")
    if (
        "code" in fields
        and fields["code"] != plan.code
        and plan.versions.exclude(status=S.DRAFT).exists()
    ):
        # The code is part of every fingerprint already taken.
        raise ImmutableRecord(
            "The code of a plan with submitted versions cannot change.", field="code"
        )
    for name, value in fields.items():
        setattr(plan, name, value)
    _save(plan, actor=actor, reason="Plan edited")
    if audience is not None:
        plan.audience.set(audience)
    return plan


# Drafting


@transaction.atomic
def version_create_draft(*, plan, actor):
    """Start the next draft, copying the sections of the latest version."""
    _require(actor, "plans.add_planversion", "You may not start drafts.")
    plan = Plan.objects.select_for_update().get(pk=plan.pk)
    busy = plan.versions.filter(status__in=WORK_IN_PROGRESS).order_by("-number").first()
    if busy is not None:
        raise Conflict(
            f"Version {busy.number} is still {busy.get_status_display().lower()}; "
            "finish or publish it before starting another draft."
        )
    latest = plan.versions.order_by("-number").first()
    version = PlanVersion(plan=plan, number=(latest.number + 1 if latest else 1), author=actor)
    try:
        with transaction.atomic():
            _save(
                version,
                actor=actor,
                reason=f"Draft started from version {latest.number}" if latest else "Draft started",
            )
    except IntegrityError as exc:
        raise Conflict("The plan already has a draft.") from exc
    sources = (
        latest.sections.order_by("order", "id")
        if latest
        else [
            Section(order=i, key=k, heading=h, body="", guidance=g)
            for i, (k, h, g) in enumerate(STANDARD_SECTIONS, start=1)
        ]
    )
    for source in sources:
        section = Section(
            version=version,
            order=source.order,
            key=source.key,
            heading=source.heading,
            body=source.body,
            guidance=source.guidance,
        )
        _save(section, actor=actor, reason="Copied from the previous version")
    return version


def _lock_draft(version, actor):
    _require(actor, "plans.change_planversion", "You may not edit plan versions.")
    version = _lock_version(version)
    if version.status != S.DRAFT:
        raise ImmutableRecord("This version has left draft; its content can no longer change.")
    return version


@transaction.atomic
def section_update(*, section, actor, heading=None, body=None):
    """Edit a section of a draft; the editor may not approve the version afterwards."""
    _require(actor, "plans.change_section", "You may not edit sections.")
    version = _lock_draft(section.version, actor)
    section = Section.objects.get(pk=section.pk)
    changed = False
    heading, body = normalise_newlines(heading), normalise_newlines(body)
    if heading is not None and heading != section.heading:
        section.heading, changed = heading, True
    if body is not None and body != section.body:
        section.body, changed = body, True
    if changed:
        _save(section, actor=actor, reason="Section edited")
        version.editors.add(actor)
    return section


@transaction.atomic
def version_update(*, version, actor, change_summary):
    """Edit the change summary of a draft."""
    version = _lock_draft(version, actor)
    change_summary = normalise_newlines(change_summary)
    if change_summary != version.change_summary:
        version.change_summary = change_summary
        _save(version, actor=actor, reason="Change summary edited")
        version.editors.add(actor)
    return version


# Workflow


@transaction.atomic
def version_submit(*, version, actor, comment=""):
    """Send a draft for review, freezing its text and storing its fingerprint."""
    _require(actor, "plans.change_planversion", "You may not submit plan versions.")
    version = _lock_version(version)
    _check_transition(version, S.IN_REVIEW)
    if not version.sections.exists():
        raise InvalidInput("A version without sections cannot be submitted.")
    version.content_hash = version_fingerprint(version)
    version.status = S.IN_REVIEW
    version.submitted_by, version.submitted_at = actor, timezone.now()
    version.approved_by = version.approved_at = None
    _save(version, actor=actor, reason=comment or "Submitted for review")
    _review(version, actor, Review.Decision.SUBMITTED, comment)
    return version


def _check_separation(version, actor):
    if queries.had_a_hand_in(actor, version):
        raise SeparationOfDuties("You may not approve a version you created, edited or submitted.")


@transaction.atomic
def version_approve(*, version, actor, comment=""):
    """An approver who had no hand in the version approves it."""
    _require(actor, "plans.approve_planversion", "Approving needs the plan approver role.")
    version = _lock_version(version)
    _check_transition(version, S.APPROVED)
    _check_separation(version, actor)
    version.status = S.APPROVED
    version.approved_by, version.approved_at = actor, timezone.now()
    _save(version, actor=actor, reason=comment or "Approved")
    _review(version, actor, Review.Decision.APPROVED, comment)
    return version


@transaction.atomic
def version_request_changes(*, version, actor, comment=""):
    """Send a version in review back to draft; its fingerprint is dropped until resubmitted."""
    _require(actor, "plans.approve_planversion", "Sending back needs the plan approver role.")
    version = _lock_version(version)
    _check_transition(version, S.DRAFT)
    if not (comment or "").strip():
        # The author needs to know what to change; the comment is the review.
        raise InvalidInput("Say what needs to change.", field="comment")
    version.status = S.DRAFT
    version.content_hash = None
    _save(version, actor=actor, reason=comment)
    _review(version, actor, Review.Decision.CHANGES_REQUESTED, comment)
    return version


@transaction.atomic
def version_publish(*, version, actor, comment=""):
    """Publish an approved version: supersede the old one, set review dates, notify the audience."""
    _require(actor, "plans.publish_planversion", "Publishing needs the plan approver role.")
    version = _lock_version(version)
    _check_transition(version, S.PUBLISHED)
    if version.content_hash != version_fingerprint(version):
        raise FingerprintMismatch("The version's text no longer matches its fingerprint.")
    Plan.objects.select_for_update().filter(pk=version.plan_id).first()
    now = timezone.now()
    previous = (
        PlanVersion.objects.select_for_update()
        .filter(plan=version.plan, status=S.PUBLISHED)
        .first()
    )
    if previous is not None:
        previous.status = S.SUPERSEDED
        previous.superseded_at = now
        _save(previous, actor=actor, reason=f"Superseded by version {version.number}")
    version.status = S.PUBLISHED
    version.published_by, version.published_at = actor, now
    version.effective_date = timezone.localdate(now)
    version.next_review_due = add_months(
        version.effective_date, version.plan.review_interval_months
    )
    _save(version, actor=actor, reason=comment or "Published")
    _review(version, actor, Review.Decision.PUBLISHED, comment)
    # Requests raised before the text was frozen could be taken into account; later ones wait.
    for request in PlanChangeRequest.objects.select_for_update().filter(
        plan=version.plan,
        status=PlanChangeRequest.Status.OPEN,
        created_at__lte=version.submitted_at,
    ):
        request.status = PlanChangeRequest.Status.ADDRESSED
        request.addressed_in, request.addressed_at = version, now
        _save(
            request, actor=actor, reason=f"Addressed by version {version.number}", **UNCHANGED_LINK
        )
    from .tasks import send_publication_notices

    version_id = version.pk
    transaction.on_commit(lambda: send_publication_notices.enqueue(version_id))
    return version


def _review(version, actor, decision, comment):
    review = Review(version=version, reviewer=actor, decision=decision, comment=comment)
    return _save(review, actor=actor, reason=review.get_decision_display())


# Acknowledgements


def _normalise_name(name):
    return " ".join((name or "").split()).casefold()


def names_match(typed, user):
    """A typed signature matches when equal to the user's full name, ignoring case and spacing."""
    expected = _normalise_name(user.get_full_name())
    return bool(expected) and _normalise_name(typed) == expected


def acknowledgement_create(
    *, version, actor, full_name, content_hash, ip_address=None, user_agent=""
):
    """Record that `actor` read `version`. Returns (acknowledgement, created).

    Acknowledging again returns the first acknowledgement. Two simultaneous
    requests race on the unique (user, version) index: the loser's insert fails
    inside its savepoint and it returns the winner's row.
    """
    from . import queries

    with transaction.atomic():
        version = PlanVersion.objects.select_related("plan").get(pk=version.pk)
        existing = Acknowledgement.objects.filter(user=actor, version=version).first()
        if existing is not None:
            return existing, False
        _require(actor, "plans.add_acknowledgement", "You may not acknowledge plans.")
        if version.status != S.PUBLISHED:
            raise InvalidInput("Only the published version of a plan can be acknowledged.")
        if not queries.in_audience(actor, version.plan):
            raise NotPermitted("You are not in this plan's audience.")
        if (content_hash or "").strip().lower() != version.content_hash:
            raise FingerprintMismatch(
                "The text you were shown is not the published text; reload it and read it again.",
                field="content_hash",
            )
        if not names_match(full_name, actor):
            raise InvalidInput(
                "Type your full name exactly as it is on your account "
                f"({actor.get_full_name() or 'no name on record: ask an administrator'}).",
                field="full_name",
            )
        acknowledgement = Acknowledgement(
            user=actor,
            version=version,
            acknowledged_at=timezone.now(),
            full_name=" ".join(full_name.split()),
            statement=version.statement,
            content_hash=version.content_hash,
            ip_address=ip_address or None,
            user_agent=(user_agent or "")[:1000],
        )
        try:
            acknowledgement.full_clean(validate_constraints=False)
        except ValidationError as exc:
            raise InvalidInput("; ".join(exc.messages)) from exc
        stamp(acknowledgement, actor=actor, reason=acknowledgement.statement)
        try:
            with transaction.atomic():
                acknowledgement.save()
        except IntegrityError as exc:
            existing = Acknowledgement.objects.filter(user=actor, version=version).first()
            if existing is None:
                # Not a duplicate: the database guard refused it, i.e. the version was
                # superseded between our check and the insert.
                raise InvalidInput(
                    "This version is no longer the published one; reload the plan."
                ) from exc
            return existing, False
    return acknowledgement, True


# Change requests

# Addressing a request leaves its link as it was: a link stored before links were
# validated (shown as text, never as an href) must not block a publication.
UNCHANGED_LINK = {"exclude": ["source_url"]}


@transaction.atomic
def change_request_create(*, plan, actor, summary, details="", source="", source_url=""):
    """Ask for a change to a plan; the plan's next draft lists it until a version addresses it.

    Every reader of the plan reads the request: the app that files it on behalf of a
    record of its own (a review, an exercise) writes only what those readers may know.
    """
    _require(actor, "plans.add_planchangerequest", "You may not request plan changes.")
    request = PlanChangeRequest(
        plan=plan,
        requested_by=actor,
        summary=summary,
        details=details,
        source=source,
        source_url=source_url,
    )
    return _save(
        request, actor=actor, reason=f"Change requested{f' by {source}' if source else ''}"
    )


@transaction.atomic
def change_request_restate(*, change_request, actor, summary, details, source, reason):
    """Replace what a request says, for the app that filed it (e.g. its source became
    confidential). No role edits requests; this is the filer's own correction, so it asks
    no permission of the actor, who is recorded with `reason` in the history."""
    request = PlanChangeRequest.objects.select_for_update().get(pk=change_request.pk)
    request.summary, request.details, request.source = summary, details, source
    return _save(request, actor=actor, reason=reason)


@transaction.atomic
def change_request_address(*, change_request, actor, version):
    """Mark a request addressed by a version of its plan (by hand, e.g. rejected as out of scope)."""
    _require(actor, "plans.change_planchangerequest", "You may not update change requests.")
    request = PlanChangeRequest.objects.select_for_update().get(pk=change_request.pk)
    if version.plan_id != request.plan_id:
        raise InvalidInput("The version belongs to another plan.")
    if request.status != PlanChangeRequest.Status.OPEN:
        raise TransitionNotAllowed("This request is already addressed.")
    request.status = PlanChangeRequest.Status.ADDRESSED
    request.addressed_in, request.addressed_at = version, timezone.now()
    return _save(
        request, actor=actor, reason=f"Addressed by version {version.number}", **UNCHANGED_LINK
    )


# Notifications


def notice_record(*, user, version, kind, actor, send):
    """Record a notice and send it in one savepoint: a duplicate publication notice is skipped.

    Returns True when sent. If sending fails, the record is rolled back so the
    next run retries; if the record already exists, nothing is sent.
    """
    notice = AcknowledgementNotice(user=user, version=version, kind=kind)
    stamp(notice, actor=actor, reason=notice.get_kind_display())
    try:
        with transaction.atomic():
            notice.save()
            send()
    except IntegrityError:
        return False
    return True


def reminder_send(*, user, actor, versions, send, now=None):
    """Remind one person of `versions` unless reminded within the interval or another sender holds them.

    The per-person ReminderClock is claimed by `core.reminders.claimed_clock`;
    its time keeps later runs away for ACKNOWLEDGEMENT_REMINDER_INTERVAL_DAYS.
    """
    now = now or timezone.now()
    with claimed_clock(
        ReminderClock,
        user,
        interval_days=settings.ACKNOWLEDGEMENT_REMINDER_INTERVAL_DAYS,
        now=now,
    ) as clock:
        if clock is None:
            return False
        clock.last_sent_at = now
        _save(clock, actor=actor, reason="Acknowledgement reminder sent")
        for version in versions:
            notice = AcknowledgementNotice(
                user=user, version=version, kind=AcknowledgementNotice.Kind.REMINDER, sent_at=now
            )
            _save(notice, actor=actor, reason="Reminder")
        send()
    return True

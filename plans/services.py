"""Every state change of plans, versions, sections, acknowledgements and change requests.

Each service writes through `core.services` (permission, lock, validation, history reason);
the review workflow's steps are checked against `PlanVersion.pipeline` (core.workflow) and
who may take them against `queries.STEPS`. Notices and reminders are `plans.notices`.
"""

import calendar
import datetime

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
from core.services import audited_save, enqueue_on_commit, lock, model_update, require
from core.signing import check_proof
from core.text import normalise_newlines
from core.workflow import check_transition

from . import queries
from .fingerprint import version_fingerprint
from .models import (
    Acknowledgement,
    Plan,
    PlanChangeRequest,
    PlanVersion,
    Review,
    Section,
    Signature,
)
from .tasks import send_publication_notices
from .template import STANDARD_SECTIONS

# What a plan's form and the API may set (the audience is a link, stored after the row).
PLAN_FIELDS = (
    "code",
    "title",
    "purpose",
    "scope",
    "objectives",
    "owner",
    "audience",
    "review_interval_months",
    "acknowledgement_days",
)


def add_months(day, months):
    """`day` plus whole months, clamped to the month's last day (31 Jan + 1 month = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return datetime.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


# Plans


@transaction.atomic
def plan_create(*, actor, code, title, owner=None, audience=(), **details):
    """A new plan and its first draft, built from the standard eleven-section template.

    `details` are the plan's other fields (purpose, scope, objectives, review interval,
    acknowledgement days); what is left out takes the model's default.
    """
    require(actor, "plans.add_plan", "You may not create plans.")
    unknown = sorted(set(details) - set(PLAN_FIELDS))
    if unknown:
        raise InvalidInput(f"These fields cannot be set here: {', '.join(unknown)}.")
    plan = Plan(code=code, title=title, owner=owner or actor, **details)
    audited_save(plan, actor=actor, reason="Plan created")
    if audience:
        plan.audience.set(audience)
    version = PlanVersion(plan=plan, number=1, author=actor, change_summary="First version.")
    audited_save(version, actor=actor, reason="First draft from the standard template")
    _copy_sections(version, _template_sections(), actor=actor, reason="Standard template")
    return plan


@transaction.atomic
def plan_update(*, plan, actor, audience=None, **fields):
    """Change a plan's descriptive fields and audience (nothing is written for no change)."""
    require(actor, "plans.change_plan", "You may not change plans.")
    plan = lock(plan)
    if (
        "code" in fields
        and fields["code"] != plan.code
        and plan.versions.exclude(status=PlanVersion.Status.DRAFT).exists()
    ):
        # The code is part of every fingerprint already taken.
        raise ImmutableRecord(
            "The code of a plan with submitted versions cannot change.", field="code"
        )
    model_update(
        instance=plan, actor=actor, fields=fields, allowed=PLAN_FIELDS, reason="Plan edited"
    )
    if audience is not None:
        plan.audience.set(audience)
    return plan


# Drafting


def _template_sections():
    """The standard template's sections, unsaved, as the sources of a first draft."""
    return [
        Section(order=order, key=key, heading=heading, body="", guidance=guidance)
        for order, (key, heading, guidance) in enumerate(STANDARD_SECTIONS, start=1)
    ]


# What a new version takes over from each section it starts from.
COPIED_SECTION_FIELDS = ("order", "key", "heading", "body", "guidance")


def _copy_sections(version, sources, *, actor, reason):
    for source in sources:
        copied = {name: getattr(source, name) for name in COPIED_SECTION_FIELDS}
        audited_save(Section(version=version, **copied), actor=actor, reason=reason)


@transaction.atomic
def version_create_draft(*, plan, actor):
    """Start the next draft, copying the sections of the latest version."""
    require(actor, "plans.add_planversion", "You may not start drafts.")
    plan = lock(plan)
    busy = plan.versions.filter(status__in=queries.WORK_IN_PROGRESS).order_by("-number").first()
    if busy is not None:
        raise Conflict(
            f"Version {busy.number} is still {busy.get_status_display().lower()}; "
            "finish or publish it before starting another draft."
        )
    latest = plan.versions.order_by("-number").first()
    version = PlanVersion(plan=plan, number=(latest.number + 1 if latest else 1), author=actor)
    reason = f"Draft started from version {latest.number}" if latest else "Draft started"
    try:
        with transaction.atomic():
            audited_save(version, actor=actor, reason=reason)
    except IntegrityError as exc:
        raise Conflict("The plan already has a draft.") from exc
    sources = latest.sections.order_by("order", "id") if latest else _template_sections()
    _copy_sections(version, sources, actor=actor, reason="Copied from the previous version")
    return version


def _lock_draft(version, actor):
    """The version locked for an edit of its text, refused once it has left draft."""
    require(actor, "plans.change_planversion", "You may not edit plan versions.")
    version = lock(version, select_related=("plan",))
    if version.status != PlanVersion.Status.DRAFT:
        raise ImmutableRecord("This version has left draft; its content can no longer change.")
    return version


def _edit_draft(version, actor, instance, texts, reason):
    """Set those of `texts` (field → new text, None for unchanged) that differ on `instance`
    (the draft or a section of it); whoever changed something becomes an editor of the
    version, and so may not approve it."""
    fields = {name: normalise_newlines(text) for name, text in texts.items() if text is not None}
    if model_update(instance=instance, actor=actor, fields=fields, allowed=texts, reason=reason):
        version.editors.add(actor)
    return instance


@transaction.atomic
def section_update(*, section, actor, heading=None, body=None):
    """Edit a section of a draft; the editor may not approve the version afterwards."""
    require(actor, "plans.change_section", "You may not edit sections.")
    version = _lock_draft(section.version, actor)
    texts = {"heading": heading, "body": body}
    return _edit_draft(version, actor, lock(section), texts, "Section edited")


@transaction.atomic
def version_update(*, version, actor, change_summary):
    """Edit the change summary of a draft."""
    version = _lock_draft(version, actor)
    texts = {"change_summary": change_summary}
    return _edit_draft(version, actor, version, texts, "Change summary edited")


# Workflow


def _sign(version, actor, proof, *, meaning, content_hash, acknowledgement=None, review=None):
    """Record `actor`'s electronic signature (21 CFR 11.50): the account's printed name now,
    the time, the meaning, the fingerprint of the text signed and how the signer proved it."""
    signature = Signature(
        version=version,
        signer=actor,
        # The account's name now (the username when it has none), kept as it was then.
        printed_name=actor.get_full_name() or actor.get_username(),
        meaning=meaning,
        signed_at=timezone.now(),
        content_hash=content_hash,
        method=proof.method,
        acknowledgement=acknowledgement,
        review=review,
    )
    reason = f"Signed: {signature.get_meaning_display()} ({signature.get_method_display()})"
    if proof.reason:
        reason = f"{reason}: {proof.reason}"
    return audited_save(signature, actor=actor, reason=reason[:100])


def _begin_step(version, actor, name, proof):
    """The version locked for the workflow step `name`, once the actor holds the step's
    permission, proved who they are for the signature, and the model's table allows it
    from the version's status."""
    step = queries.STEPS[name]
    require(actor, step.permission, step.refusal)
    check_proof(proof, actor)
    version = lock(version, select_related=("plan",))
    check_transition(version, step.target)
    return version, step


def _finish_step(version, step, *, actor, proof, decision, comment, reason, signed_hash=None):
    """Move the version to the step's status, record the step as a review and its signature
    (on `signed_hash`, the fingerprint of the text the step was taken on)."""
    signed_hash = signed_hash or version.content_hash
    version.status = step.target
    audited_save(version, actor=actor, reason=comment or reason)
    review = Review(version=version, reviewer=actor, decision=decision, comment=comment)
    audited_save(review, actor=actor, reason=review.get_decision_display())
    _sign(version, actor, proof, meaning=decision, content_hash=signed_hash, review=review)
    return version


@transaction.atomic
def version_submit(*, version, actor, proof=None, comment=""):
    """Send a draft for review, freezing its text and storing its fingerprint."""
    version, step = _begin_step(version, actor, "submit", proof)
    if not version.sections.exists():
        raise InvalidInput("A version without sections cannot be submitted.")
    version.content_hash = version_fingerprint(version)
    version.submitted_by, version.submitted_at = actor, timezone.now()
    version.approved_by = version.approved_at = None
    decision, reason = Review.Decision.SUBMITTED, "Submitted for review"
    return _finish_step(
        version, step, actor=actor, proof=proof, decision=decision, comment=comment, reason=reason
    )


@transaction.atomic
def version_approve(*, version, actor, proof=None, comment=""):
    """An approver who had no hand in the version approves it."""
    version, step = _begin_step(version, actor, "approve", proof)
    if queries.had_a_hand_in(actor, version):
        raise SeparationOfDuties("You may not approve a version you created, edited or submitted.")
    version.approved_by, version.approved_at = actor, timezone.now()
    decision = Review.Decision.APPROVED
    return _finish_step(
        version,
        step,
        actor=actor,
        proof=proof,
        decision=decision,
        comment=comment,
        reason="Approved",
    )


@transaction.atomic
def version_request_changes(*, version, actor, proof=None, comment=""):
    """Send a version in review back to draft; its fingerprint is dropped until resubmitted."""
    version, step = _begin_step(version, actor, "request_changes", proof)
    if not (comment or "").strip():
        # The author needs to know what to change; the comment is the review.
        raise InvalidInput("Say what needs to change.", field="comment")
    signed_hash, version.content_hash = version.content_hash, None
    decision = Review.Decision.CHANGES_REQUESTED
    return _finish_step(
        version,
        step,
        actor=actor,
        proof=proof,
        decision=decision,
        comment=comment,
        reason="",
        signed_hash=signed_hash,
    )


@transaction.atomic
def version_publish(*, version, actor, proof=None, comment=""):
    """Publish an approved version: supersede the old one, set review dates, notify the audience."""
    version, step = _begin_step(version, actor, "publish", proof)
    if version.content_hash != version_fingerprint(version):
        raise FingerprintMismatch("The version's text no longer matches its fingerprint.")
    lock(version.plan)
    now = timezone.now()
    previous = (
        PlanVersion.objects.select_for_update()
        .filter(plan=version.plan, status=PlanVersion.Status.PUBLISHED)
        .first()
    )
    if previous is not None:
        check_transition(previous, PlanVersion.Status.SUPERSEDED)
        previous.status = PlanVersion.Status.SUPERSEDED
        previous.superseded_at = now
        audited_save(previous, actor=actor, reason=f"Superseded by version {version.number}")
    version.published_by, version.published_at = actor, now
    version.effective_date = timezone.localdate(now)
    version.next_review_due = add_months(
        version.effective_date, version.plan.review_interval_months
    )
    decision = Review.Decision.PUBLISHED
    _finish_step(
        version,
        step,
        actor=actor,
        proof=proof,
        decision=decision,
        comment=comment,
        reason="Published",
    )
    # Requests raised before the text was frozen could be taken into account; later ones wait.
    for request in PlanChangeRequest.objects.select_for_update().filter(
        plan=version.plan,
        status=PlanChangeRequest.Status.OPEN,
        created_at__lte=version.submitted_at,
    ):
        _address(request, version, actor=actor, now=now)
    enqueue_on_commit(send_publication_notices, version.pk)
    return version


def version_step(*, version, actor, step, proof=None, comment=""):
    """Take the workflow step named `step` (a name of queries.STEPS), for a face that offers
    the steps by name (the admin's buttons)."""
    service = {
        "submit": version_submit,
        "approve": version_approve,
        "request_changes": version_request_changes,
        "publish": version_publish,
    }.get(step)
    if service is None:
        raise InvalidInput("Unknown workflow step.", field="step")
    return service(version=version, actor=actor, proof=proof, comment=comment)


# Acknowledgements


def _normalise_name(name):
    return " ".join((name or "").split()).casefold()


def names_match(typed, user):
    """A typed signature matches when equal to the user's full name, ignoring case and spacing."""
    expected = _normalise_name(user.get_full_name())
    return bool(expected) and _normalise_name(typed) == expected


def _check_signature(version, actor, *, full_name, content_hash):
    """Refuse a signature of anything but the published text, by anyone outside the audience
    or under a name that is not the signer's."""
    require(actor, "plans.add_acknowledgement", "You may not acknowledge plans.")
    if version.status != PlanVersion.Status.PUBLISHED:
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


def acknowledgement_create(
    *, version, actor, full_name, content_hash, proof=None, ip_address=None, user_agent=""
):
    """Record that `actor` read `version`, signed (the typed name identifies, `proof` says
    they re-entered their password: 11.200's two components). Returns (acknowledgement, created).

    Acknowledging again returns the first acknowledgement. Two simultaneous
    requests race on the unique (user, version) index: the loser's insert fails
    inside its savepoint and it returns the winner's row.
    """
    with transaction.atomic():
        version = PlanVersion.objects.select_related("plan").get(pk=version.pk)
        existing = Acknowledgement.objects.filter(user=actor, version=version).first()
        if existing is not None:
            return existing, False
        _check_signature(version, actor, full_name=full_name, content_hash=content_hash)
        check_proof(proof, actor)
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
        # The unique index, not a query, decides a race: saved in a savepoint of its own.
        stamp(acknowledgement, actor=actor, reason=acknowledgement.statement)
        try:
            with transaction.atomic():
                acknowledgement.save()
                _sign(
                    version,
                    actor,
                    proof,
                    meaning=Signature.Meaning.ACKNOWLEDGED,
                    content_hash=acknowledgement.content_hash,
                    acknowledgement=acknowledgement,
                )
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


@transaction.atomic
def change_request_create(*, plan, actor, summary, details="", source="", source_url=""):
    """Ask for a change to a plan; the plan's next draft lists it until a version addresses it.

    Every reader of the plan reads the request: the app that files it on behalf of a
    record of its own (a review, an exercise) writes only what those readers may know.
    """
    require(actor, "plans.add_planchangerequest", "You may not request plan changes.")
    request = PlanChangeRequest(
        plan=plan,
        requested_by=actor,
        summary=summary,
        details=details,
        source=source,
        source_url=source_url,
    )
    return audited_save(
        request, actor=actor, reason=f"Change requested{f' by {source}' if source else ''}"
    )


@transaction.atomic
def change_request_restate(*, change_request, actor, summary, details, source, reason):
    """Replace what a request says, for the app that filed it (e.g. its source became
    confidential). No role edits requests; this is the filer's own correction, so it asks
    no permission of the actor, who is recorded with `reason` in the history."""
    request = lock(change_request)
    request.summary, request.details, request.source = summary, details, source
    return audited_save(request, actor=actor, reason=reason)


def _address(request, version, *, actor, now):
    """Mark `request` (locked) addressed by `version`.

    Its link is left as it was, unchecked: a link stored before links were validated
    (shown as text, never as an href) must not block a publication.
    """
    request.status = PlanChangeRequest.Status.ADDRESSED
    request.addressed_in, request.addressed_at = version, now
    return audited_save(
        request,
        actor=actor,
        reason=f"Addressed by version {version.number}",
        exclude=["source_url"],
    )


@transaction.atomic
def change_request_address(*, change_request, actor, version):
    """Mark a request addressed by a version of its plan (by hand, e.g. rejected as out of scope)."""
    require(actor, "plans.change_planchangerequest", "You may not update change requests.")
    request = lock(change_request)
    if version.plan_id != request.plan_id:
        raise InvalidInput("The version belongs to another plan.")
    if request.status != PlanChangeRequest.Status.OPEN:
        raise TransitionNotAllowed("This request is already addressed.")
    return _address(request, version, actor=actor, now=timezone.now())

"""Read side of plans: visible versions, audiences, compliance, pending work, diffs, the version in force."""

import difflib
import re
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    FilteredRelation,
    Func,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import mark_safe

from core.history_diff import NO_MASK, Mask
from core.people import FORMER_STAFF, current_staff, is_current_staff
from core.text import normalise_newlines
from core.workflow import may_become

from .models import Acknowledgement, Plan, PlanChangeRequest, PlanVersion, Section, Signature

User = get_user_model()
VISIBLE_TO_EVERYONE = (PlanVersion.Status.PUBLISHED, PlanVersion.Status.SUPERSEDED)
# Versions still being worked on: while one exists, no second draft may start, and their
# pages list the plan's open change requests.
WORK_IN_PROGRESS = (
    PlanVersion.Status.DRAFT,
    PlanVersion.Status.IN_REVIEW,
    PlanVersion.Status.APPROVED,
)


def can_see_unpublished(user):
    return user.has_perm("plans.view_unpublished_planversion")


def can_see_all_acknowledgements(user):
    return user.has_perm("plans.view_compliance_report")


def had_a_hand_in(user, version):
    """Separation of duties: the author, the submitter and every editor of a version."""
    if user.pk in (version.author_id, version.submitted_by_id):
        return True
    return version.editors.filter(pk=user.pk).exists()


@dataclass(frozen=True)
class Step:
    """A step of the review workflow as people take it: the status it leads to (the model's
    `pipeline` says from where), the permission it needs and the refusal without it."""

    name: str
    label: str
    target: str
    permission: str
    refusal: str


# Who may take each step of the review workflow: the one table the services enforce and the
# admin buttons and the API offer (`allowed_steps`).
STEPS = {
    step.name: step
    for step in (
        Step(
            "submit",
            "Submit for review",
            PlanVersion.Status.IN_REVIEW,
            "plans.change_planversion",
            "You may not submit plan versions.",
        ),
        Step(
            "approve",
            "Approve",
            PlanVersion.Status.APPROVED,
            "plans.approve_planversion",
            "Approving needs the plan approver role.",
        ),
        Step(
            "request_changes",
            "Request changes",
            PlanVersion.Status.DRAFT,
            "plans.approve_planversion",
            "Sending back needs the plan approver role.",
        ),
        Step(
            "publish",
            "Publish",
            PlanVersion.Status.PUBLISHED,
            "plans.publish_planversion",
            "Publishing needs the plan approver role.",
        ),
    )
}


def _step_open_to(user, version, step):
    """The table allows the step from the version's status and `user` holds its permission."""
    return may_become(version, step.target) and user.has_perm(step.permission)


def approval_barred(user, version):
    """Whether separation of duties alone keeps `user` from approving `version` now: an
    approver who created, edited or submitted it (the admin says why the button is missing)."""
    return _step_open_to(user, version, STEPS["approve"]) and had_a_hand_in(user, version)


def may_approve(user, version):
    """Whether `user` may approve `version` now: the one rule the services enforce and the
    pages ask before offering the button."""
    return _step_open_to(user, version, STEPS["approve"]) and not had_a_hand_in(user, version)


def may_take(user, version, step):
    """Whether `user` may take the workflow `step` on `version` now."""
    if step.name == "approve":
        return may_approve(user, version)
    return _step_open_to(user, version, step)


def allowed_steps(user, version):
    """The steps of the review workflow `user` may take on `version` now, in workflow order."""
    return [step for step in STEPS.values() if may_take(user, version, step)]


def can_acknowledge(user, version, *, signed=None):
    """Whether `user` may sign `version` now: the published version, someone in its audience
    holding the permission, not signed yet (`signed`: whether they have, when the caller
    knows already). The service refuses each of these with its own reason."""
    if signed is None:
        signed = Acknowledgement.objects.filter(user=user, version=version).exists()
    return (
        not signed
        and version.status == PlanVersion.Status.PUBLISHED
        and in_audience(user, version.plan)
        and user.has_perm("plans.add_acknowledgement")
    )


CHANGE_REQUEST_TEXT = frozenset({"summary", "details", "source", "source_url"})


def change_request_history_mask(user, change_request):
    """A request restated because its source became confidential keeps what it said before in
    its history (history is append-only): readers who may not see confidential sources get
    none of its text there, in the admin and the API alike."""
    if change_request.has_confidential_source and not user.has_perm(
        "plans.read_confidential_source"
    ):
        return Mask(fields=CHANGE_REQUEST_TEXT)
    return NO_MASK


def visible_versions(user, versions=None):
    """Versions (of `versions`, default all) `user` may see: all for authors, approvers and
    compliance; published and superseded ones for everyone else."""
    qs = PlanVersion.objects.all() if versions is None else versions
    if not can_see_unpublished(user):
        qs = qs.filter(status__in=VISIBLE_TO_EVERYONE)
    return qs


def _membership(plan_ref, user_ref="pk"):
    """Subquery: is the user (OuterRef user_ref) in a group of the plan's audience?"""
    Membership = User.groups.through
    return Exists(
        Membership.objects.filter(
            user_id=OuterRef(user_ref),
            group__audience_plans=plan_ref,
        )
    )


def audience_users(plan):
    """Active users in any of the plan's audience groups (each once)."""
    return User.objects.filter(_membership(plan.pk), current_staff())


def in_audience(user, plan):
    return audience_users(plan).filter(pk=user.pk).exists()


def _audience_count(plan_field):
    """Subquery: how many active users are in the audience of the plan named by `plan_field`
    (a field of the annotated queryset)."""
    Membership = User.groups.through
    members = User.objects.filter(
        Exists(
            Membership.objects.filter(
                user_id=OuterRef("pk"), group__audience_plans=OuterRef(OuterRef(plan_field))
            )
        ),
        current_staff(),
    )
    return Subquery(
        members.order_by().annotate(n=Func(Value(1), function="COUNT")).values("n")[:1],
        output_field=IntegerField(),
    )


def _acknowledged_count(version_field, plan_field):
    """Subquery: how many current audience members acknowledged the version in `version_field`."""
    Membership = User.groups.through
    acks = Acknowledgement.objects.filter(
        Exists(
            Membership.objects.filter(
                user_id=OuterRef("user_id"),
                group__audience_plans=OuterRef(OuterRef(plan_field)),
            )
        ),
        current_staff("user__"),
        version_id=OuterRef(version_field),
    )
    return Subquery(
        acks.order_by().annotate(n=Func(Value(1), function="COUNT")).values("n")[:1],
        output_field=IntegerField(),
    )


def with_progress(versions):
    """Annotate versions with `audience_size` and `acknowledged_count` (two subqueries, no loop)."""
    return versions.annotate(
        audience_size=Coalesce(_audience_count("plan_id"), 0),
        acknowledged_count=Coalesce(_acknowledged_count("pk", "plan_id"), 0),
    )


def current_versions():
    return PlanVersion.objects.filter(status=PlanVersion.Status.PUBLISHED)


def _published_version():
    """Subquery rows: the published version of the plan of the outer row."""
    return PlanVersion.objects.filter(plan=OuterRef("pk"), status=PlanVersion.Status.PUBLISHED)


def _review_due():
    """Whether the outer plan's published version is past its review date (as
    PlanVersion.is_review_due says of one version)."""
    overdue = _published_version().filter(next_review_due__lt=timezone.localdate())
    return ExpressionWrapper(Exists(overdue), output_field=BooleanField())


def plans_list():
    """Plans with their owner, audience and published version, and the review-due flag."""
    return (
        Plan.objects.select_related("owner")
        .prefetch_related(
            Prefetch("audience", queryset=Group.objects.order_by("name")),
            Prefetch(
                "versions",
                queryset=PlanVersion.objects.order_by("-number"),
                to_attr="versions_newest_first",
            ),
        )
        .annotate(review_due=_review_due())
    )


def plans_with_progress(plans):
    """Annotate `plans` with their published version (`current_number`, `current_id`), the
    review-due flag (`is_review_due`), the audience's size and how many of it acknowledged
    the published version: subqueries, no query per row."""
    published = _published_version()
    return plans.annotate(
        current_number=Subquery(published.values("number")[:1]),
        current_id=Subquery(published.values("pk")[:1]),
        is_review_due=_review_due(),
    ).annotate(
        audience_size=Coalesce(_audience_count("pk"), 0),
        acknowledged_count=Coalesce(_acknowledged_count("current_id", "pk"), 0),
    )


def versions_list(user, plan=None):
    qs = visible_versions(user).select_related("plan", "author")
    if plan is not None:
        qs = qs.filter(plan=plan)
    return qs.order_by("plan__code", "-number")


def version_detail(user):
    """Versions with everything the detail view shows, in a fixed number of queries."""
    return (
        visible_versions(user)
        .select_related("plan", "author", "submitted_by", "approved_by", "published_by")
        .prefetch_related(
            Prefetch("sections", queryset=Section.objects.order_by("order", "id")),
        )
    )


def open_change_requests(plan):
    return (
        PlanChangeRequest.objects.filter(plan=plan, status=PlanChangeRequest.Status.OPEN)
        .select_related("requested_by")
        .order_by("created_at", "id")
    )


def version_in_force(plan, at):
    """The version that was published (and not yet superseded) at time `at`, or None."""
    return (
        PlanVersion.objects.filter(plan=plan, status__in=VISIBLE_TO_EVERYONE, published_at__lte=at)
        .filter(Q(superseded_at__isnull=True) | Q(superseded_at__gt=at))
        .order_by("-published_at", "-number")
        .first()
    )


def pending_acknowledgements(user):
    """Published versions whose audience includes `user` and that `user` has not acknowledged."""
    if not is_current_staff(user):
        return PlanVersion.objects.none()
    Membership = User.groups.through
    return (
        PlanVersion.objects.filter(status=PlanVersion.Status.PUBLISHED)
        .filter(
            Exists(
                Membership.objects.filter(
                    user_id=user.pk, group__audience_plans=OuterRef("plan_id")
                )
            )
        )
        .exclude(Exists(Acknowledgement.objects.filter(user_id=user.pk, version=OuterRef("pk"))))
        .select_related("plan")
        .order_by("published_at", "id")
    )


def applicable_versions(user):
    """The published versions of the plans whose audience includes `user`, by plan code."""
    return (
        PlanVersion.objects.filter(status=PlanVersion.Status.PUBLISHED)
        .filter(plan__audience__user=user)
        .select_related("plan")
        .distinct()
        .order_by("plan__code")
    )


def acknowledgements_for(user):
    qs = Acknowledgement.objects.select_related("user", "version", "version__plan")
    if not can_see_all_acknowledgements(user):
        qs = qs.filter(user=user)
    return qs


def signatures_visible_to(user, signatures=None):
    """The electronic signatures `user` may read: those on versions they may see; of those,
    every review-step signature, and acknowledgement signatures as `acknowledgements_for`
    (one's own, or everyone's for compliance staff and coordinators: who acknowledged is
    not for every reader of the plan)."""
    qs = Signature.objects.all() if signatures is None else signatures
    qs = qs.filter(version__in=visible_versions(user).values("pk"))
    if not can_see_all_acknowledgements(user):
        qs = qs.filter(Q(acknowledgement__isnull=True) | Q(signer=user))
    return qs


def signatures_of(version, user):
    """The signatures on `version` that `user` may read (one query), oldest first."""
    return signatures_visible_to(user).filter(version=version).order_by("signed_at", "id")


class ComplianceState:
    """Where an audience member stands with a version (the `state` of a compliance row)."""

    ACKNOWLEDGED = "acknowledged"
    OUTSTANDING = "outstanding"
    OVERDUE = "overdue"
    # Signed, and no longer staff (core.people): shown with what they signed, never owing.
    FORMER_STAFF = FORMER_STAFF


def compliance_rows(version, *, now=None):
    """Every audience member with their signature of `version` (or None), by name. One query.

    Former staff who signed the version are listed too (state `former_staff`), so the
    evidence of their signature stays in the report; former staff who did not sign are not.

    Each row carries what 21 CFR 11.50 asks a signature to show beside the account's
    printed name: the name typed when signing, the time, the statement agreed to
    (its meaning), the fingerprint signed, and where it was signed from; and its `state`:
    acknowledged, or outstanding, or overdue once the version's acknowledgements are.
    """
    signature = FilteredRelation(
        "plan_acknowledgements", condition=Q(plan_acknowledgements__version=version)
    )
    unsigned = (
        ComplianceState.OVERDUE
        if version.acknowledgements_overdue(now)
        else ComplianceState.OUTSTANDING
    )
    signed = Acknowledgement.objects.filter(version=version, user=OuterRef("pk"))
    people = User.objects.filter(
        (_membership(version.plan_id) & current_staff()) | (~current_staff() & Exists(signed))
    )
    return (
        people.annotate(signature=signature)
        .annotate(
            acknowledged_at=F("signature__acknowledged_at"),
            acknowledgement_id=F("signature__pk"),
            signed_name=F("signature__full_name"),
            signed_statement=F("signature__statement"),
            signed_hash=F("signature__content_hash"),
            signed_ip_address=F("signature__ip_address"),
            signed_user_agent=F("signature__user_agent"),
            state=Case(
                When(~current_staff(), then=Value(ComplianceState.FORMER_STAFF)),
                When(signature__pk__isnull=False, then=Value(ComplianceState.ACKNOWLEDGED)),
                default=Value(unsigned),
                output_field=CharField(),
            ),
        )
        .order_by("last_name", "first_name", "username", "pk")
    )


def compliance_summary(version, *, now=None):
    """Counts for one version, computed in one aggregate query whatever the audience size."""
    now = now or timezone.now()
    ack = Acknowledgement.objects.filter(version=version, user=OuterRef("pk"))
    counts = (
        audience_users(version.plan)
        .annotate(has_ack=Exists(ack))
        .aggregate(audience=Count("pk"), acknowledged=Count("pk", filter=Q(has_ack=True)))
    )
    outstanding = counts["audience"] - counts["acknowledged"]
    is_overdue = version.acknowledgements_overdue(now)
    return {
        "audience": counts["audience"],
        "acknowledged": counts["acknowledged"],
        "outstanding": outstanding,
        "overdue": outstanding if is_overdue else 0,
        "overdue_since": version.acknowledge_by,
        "grace_period_ended": version.grace_period_ended(now),
    }


def outstanding_users(version):
    """Audience members who have not acknowledged, by name. One query."""
    ack = Acknowledgement.objects.filter(version=version, user=OuterRef("pk"))
    return (
        audience_users(version.plan)
        .exclude(Exists(ack))
        .order_by("last_name", "first_name", "username", "pk")
    )


def outstanding_people():
    """Active people who owe at least one acknowledgement of a published version."""
    Membership = User.groups.through
    owing = PlanVersion.objects.filter(status=PlanVersion.Status.PUBLISHED).filter(
        Exists(
            Membership.objects.filter(
                user_id=OuterRef(OuterRef("pk")), group__audience_plans=OuterRef("plan_id")
            )
        ),
        ~Exists(
            Acknowledgement.objects.filter(user_id=OuterRef(OuterRef("pk")), version=OuterRef("pk"))
        ),
    )
    return User.objects.filter(Exists(owing), current_staff()).order_by("pk")


# Comparing versions

_TOKENS = re.compile(r"\s+|[^\s]+")


def _words(text):
    # Published texts saved before line endings were normalised may hold CRLF: a
    # difference in line endings alone is no change to a reader.
    return _TOKENS.findall(normalise_newlines(text) or "")


def _same_text(old, new):
    return [normalise_newlines(t) for t in old] == [normalise_newlines(t) for t in new]


def word_diff(old, new):
    """Word-level operations turning `old` into `new`: [{"op", "old", "new"}] (op: equal/insert/delete/replace)."""
    a, b = _words(old), _words(new)
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    return [
        {"op": tag, "old": "".join(a[i1:i2]), "new": "".join(b[j1:j2])}
        for tag, i1, i2, j1, j2 in matcher.get_opcodes()
    ]


def diff_html(operations, side):
    """One side of a word diff as escaped HTML, removals in <del> and additions in <ins>."""
    parts = []
    for op in operations:
        if op["op"] == "equal":
            parts.append(escape(op["old"] if side == "old" else op["new"]))
        elif side == "old" and op["old"]:
            parts.append(f"<del>{escape(op['old'])}</del>")
        elif side == "new" and op["new"]:
            parts.append(f"<ins>{escape(op['new'])}</ins>")
    return mark_safe("".join(parts))


def version_diff(old, new):
    """Section by section differences from version `old` to version `new` of one plan."""
    old_sections = {s.key: s for s in old.sections.order_by("order", "id")}
    new_sections = {s.key: s for s in new.sections.order_by("order", "id")}
    keys = list(new_sections) + [k for k in old_sections if k not in new_sections]
    sections = []
    for key in keys:
        a, b = old_sections.get(key), new_sections.get(key)
        if a is None:
            state = "added"
        elif b is None:
            state = "removed"
        elif _same_text((a.heading, a.body), (b.heading, b.body)):
            state = "unchanged"
        else:
            state = "changed"
        sections.append(
            {
                "key": key,
                "state": state,
                "old_heading": a.heading if a else None,
                "new_heading": b.heading if b else None,
                "heading_changes": word_diff(a.heading if a else "", b.heading if b else ""),
                "old_body": a.body if a else None,
                "new_body": b.body if b else None,
                "body_changes": word_diff(a.body if a else "", b.body if b else ""),
            }
        )
    return {
        "plan": new.plan_id,
        "from_version": {"id": old.pk, "number": old.number, "status": old.status},
        "to_version": {"id": new.pk, "number": new.number, "status": new.status},
        "change_summary": new.change_summary,
        "sections": sections,
    }


def version_diff_html(old, new):
    """`version_diff`, with each side of each section's heading and body as escaped HTML
    (`old_heading_html`, `new_heading_html`, `old_html`, `new_html`) for a page to show."""
    diff = version_diff(old, new)
    for section in diff["sections"]:
        for side in ("old", "new"):
            section[f"{side}_heading_html"] = diff_html(section["heading_changes"], side)
            section[f"{side}_html"] = diff_html(section["body_changes"], side)
    return diff

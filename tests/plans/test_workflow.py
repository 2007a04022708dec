"""The review workflow: every transition pair, separation of duties, roles, drafts, review dates."""

import datetime
import itertools

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import (
    Conflict,
    DomainError,
    ImmutableRecord,
    NotPermitted,
    SeparationOfDuties,
    TransitionNotAllowed,
)
from core.workflow import all_steps
from plans import queries, services
from plans.models import PlanChangeRequest, PlanVersion, Review
from tests import factories
from tests.plans.factories import draft_of, fill, make_plan, publish, published_plan
from tests.signing import signer_proof

pytestmark = pytest.mark.django_db
S = PlanVersion.Status


def version_in(status, author, approver):
    """A version of a fresh plan brought to `status` through the services."""
    plan = make_plan(author=author, code=f"P-{status}".replace("_", "-"))
    version = fill(draft_of(plan), author)
    steps = {
        S.DRAFT: [],
        S.IN_REVIEW: ["submit"],
        S.APPROVED: ["submit", "approve"],
        S.PUBLISHED: ["submit", "approve", "publish"],
        S.SUPERSEDED: ["submit", "approve", "publish", "supersede"],
    }[status]
    for step in steps:
        if step == "submit":
            services.version_submit(version=version, actor=author, proof=signer_proof(author))
        elif step == "approve":
            services.version_approve(version=version, actor=approver, proof=signer_proof(approver))
        elif step == "publish":
            services.version_publish(version=version, actor=approver, proof=signer_proof(approver))
        elif step == "supersede":
            nxt = services.version_create_draft(plan=plan, actor=author)
            publish(nxt, author=author, approver=approver)
    version.refresh_from_db()
    assert version.status == status
    return version


def do_step(target, version, author, approver):
    if target == S.IN_REVIEW:
        return services.version_submit(version=version, actor=author, proof=signer_proof(author))
    if target == S.APPROVED:
        return services.version_approve(
            version=version, actor=approver, proof=signer_proof(approver)
        )
    if target == S.DRAFT:
        return services.version_request_changes(
            version=version, actor=approver, proof=signer_proof(approver), comment="redo"
        )
    if target == S.PUBLISHED:
        return services.version_publish(
            version=version, actor=approver, proof=signer_proof(approver)
        )
    if target == S.SUPERSEDED:
        nxt = services.version_create_draft(plan=version.plan, actor=author)
        publish(nxt, author=author, approver=approver)
        version.refresh_from_db()
        return version


ALLOWED = all_steps(PlanVersion)
PAIRS = [(a, b) for a, b in itertools.product(S.values, S.values) if a != b]


def test_transition_table_is_the_documented_workflow():
    assert ALLOWED == {
        (S.DRAFT, S.IN_REVIEW),
        (S.IN_REVIEW, S.APPROVED),
        (S.IN_REVIEW, S.DRAFT),
        (S.APPROVED, S.PUBLISHED),
        (S.PUBLISHED, S.SUPERSEDED),
    }


@pytest.mark.parametrize(("source", "target"), PAIRS)
def test_every_transition_pair_is_allowed_or_refused(source, target, coordinator, approver):
    version = version_in(source, coordinator, approver)
    if (source, target) in ALLOWED:
        result = do_step(target, version, coordinator, approver)
        result.refresh_from_db()
        assert result.status == target
    elif target == S.SUPERSEDED:
        # Only publishing a newer version supersedes; no service moves other statuses there.
        with pytest.raises((Conflict, TransitionNotAllowed)):
            do_step(target, version, coordinator, approver)
        version.refresh_from_db()
        assert version.status == source
    else:
        with pytest.raises(TransitionNotAllowed):
            do_step(target, version, coordinator, approver)
        version.refresh_from_db()
        assert version.status == source


class Rollback(Exception):
    pass


@pytest.mark.parametrize("status", S.values)
def test_the_steps_offered_are_the_steps_the_services_take(status, coordinator, approver):
    version = version_in(status, coordinator, approver)
    for user in (coordinator, approver):
        offered = {step.name for step in queries.allowed_steps(user, version)}
        for name in queries.STEPS:
            try:
                with transaction.atomic():
                    services.version_step(
                        version=version,
                        actor=user,
                        proof=signer_proof(user),
                        step=name,
                        comment="c",
                    )
                    raise Rollback
            except Rollback:
                taken = True
            except DomainError:
                taken = False
            assert taken == (name in offered), (status, user.username, name)


def test_author_cannot_approve_own_version(coordinator):
    both = factories.UserFactory(groups=["Coordinators", "Plan approvers"], username="both")
    plan = make_plan(author=both)
    version = fill(draft_of(plan), both)
    services.version_submit(version=version, actor=both, proof=signer_proof(both))
    with pytest.raises(SeparationOfDuties):
        services.version_approve(version=version, actor=both, proof=signer_proof(both))


def test_editor_cannot_approve_a_version_they_edited(coordinator):
    editor = factories.UserFactory(groups=["Coordinators", "Plan approvers"], username="ed")
    plan = make_plan(author=coordinator)
    version = draft_of(plan)
    section = version.sections.first()
    services.section_update(section=section, actor=editor, body="edited by ed")
    services.version_submit(version=version, actor=coordinator, proof=signer_proof(coordinator))
    with pytest.raises(SeparationOfDuties):
        services.version_approve(version=version, actor=editor, proof=signer_proof(editor))


def test_submitter_cannot_approve_a_version_they_submitted(coordinator):
    submitter = factories.UserFactory(groups=["Coordinators", "Plan approvers"], username="sub")
    plan = make_plan(author=coordinator)
    version = fill(draft_of(plan), coordinator)
    services.version_submit(version=version, actor=submitter, proof=signer_proof(submitter))
    with pytest.raises(SeparationOfDuties):
        services.version_approve(version=version, actor=submitter, proof=signer_proof(submitter))


def test_uninvolved_approver_may_approve_and_history_records_who_and_why(coordinator, approver):
    plan = make_plan(author=coordinator)
    version = fill(draft_of(plan), coordinator)
    services.version_submit(
        version=version, actor=coordinator, proof=signer_proof(coordinator), comment="please review"
    )
    services.version_approve(
        version=version, actor=approver, proof=signer_proof(approver), comment="fine by me"
    )
    version.refresh_from_db()
    assert version.approved_by == approver and version.approved_at is not None
    record = version.history.order_by("-history_date", "-history_id").first()
    assert record.history_user == approver
    assert record.history_change_reason == "fine by me"
    assert list(version.reviews.values_list("decision", "comment")) == [
        (Review.Decision.SUBMITTED, "please review"),
        (Review.Decision.APPROVED, "fine by me"),
    ]


def test_coordinator_without_approver_role_cannot_approve_or_publish(coordinator):
    other = factories.coordinator(username="other")
    plan = make_plan(author=coordinator)
    version = fill(draft_of(plan), coordinator)
    services.version_submit(version=version, actor=coordinator, proof=signer_proof(coordinator))
    with pytest.raises(NotPermitted):
        services.version_approve(version=version, actor=other, proof=signer_proof(other))
    with pytest.raises(NotPermitted):
        services.version_request_changes(
            version=version, actor=other, proof=signer_proof(other), comment="x"
        )


def test_staff_cannot_author(staff_user):
    with pytest.raises(NotPermitted):
        services.plan_create(actor=staff_user, code="X", title="X")


def test_approver_cannot_publish_without_publish_permission(coordinator):
    approve_only = factories.UserFactory(username="ao")
    from django.contrib.auth.models import Permission

    approve_only.user_permissions.add(Permission.objects.get(codename="approve_planversion"))
    plan = make_plan(author=coordinator)
    version = fill(draft_of(plan), coordinator)
    services.version_submit(version=version, actor=coordinator, proof=signer_proof(coordinator))
    services.version_approve(version=version, actor=approve_only, proof=signer_proof(approve_only))
    with pytest.raises(NotPermitted):
        services.version_publish(
            version=version, actor=approve_only, proof=signer_proof(approve_only)
        )


def test_new_plan_starts_with_the_eleven_template_sections_and_guidance(coordinator):
    plan = make_plan(author=coordinator)
    version = draft_of(plan)
    sections = list(version.sections.order_by("order"))
    assert [s.key for s in sections] == [
        "incident-definition",
        "roles-and-responsibilities",
        "communication-plan",
        "incident-classification",
        "incident-reporting",
        "escalation-procedures",
        "containment-and-eradication",
        "recovery-and-post-incident",
        "training-and-awareness",
        "review-and-revision",
        "acknowledgement",
    ]
    assert all(s.guidance for s in sections)
    assert version.number == 1 and version.author == coordinator


def test_new_draft_copies_latest_version_sections(coordinator, approver):
    plan, v1, author, _ = published_plan(approver=approver)
    v2 = services.version_create_draft(plan=plan, actor=author)
    assert v2.number == 2 and v2.status == S.DRAFT
    assert list(v2.sections.values_list("key", "heading", "body")) == list(
        v1.sections.values_list("key", "heading", "body")
    )


def test_second_draft_is_a_conflict_while_one_is_in_progress(coordinator, approver):
    plan, v1, author, _ = published_plan(approver=approver)
    services.version_create_draft(plan=plan, actor=author)
    with pytest.raises(Conflict):
        services.version_create_draft(plan=plan, actor=author)


def test_database_allows_one_draft_and_one_published_per_plan(coordinator, approver):
    plan, v1, author, _ = published_plan(approver=approver)
    services.version_create_draft(plan=plan, actor=author)
    with pytest.raises(IntegrityError), transaction.atomic():
        PlanVersion.objects.create(plan=plan, number=9, author=author)
    with pytest.raises(IntegrityError), transaction.atomic():
        PlanVersion.objects.create(
            plan=plan,
            number=10,
            author=author,
            status=S.PUBLISHED,
            content_hash="a" * 64,
            published_at=timezone.now(),
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        PlanVersion.objects.create(
            plan=plan, number=1, author=author, status=S.IN_REVIEW, content_hash="b" * 64
        )


def test_sections_keys_are_unique_per_version(coordinator):
    from plans.models import Section

    version = draft_of(make_plan(author=coordinator))
    with pytest.raises(IntegrityError), transaction.atomic():
        Section.objects.create(version=version, order=99, key="incident-definition", heading="x")


def test_publishing_supersedes_previous_and_sets_review_dates(coordinator, approver):
    plan, v1, author, _ = published_plan(approver=approver, review_interval_months=6)
    v2 = fill(services.version_create_draft(plan=plan, actor=author), author, "new")
    publish(v2, author=author, approver=approver)
    v1.refresh_from_db()
    assert v1.status == S.SUPERSEDED and v1.superseded_at == v2.published_at
    assert v2.effective_date == timezone.localdate(v2.published_at)
    assert v2.next_review_due == services.add_months(v2.effective_date, 6)
    assert v1.history.first().history_change_reason == "Superseded by version 2"


def test_add_months_clamps_to_month_end():
    assert services.add_months(datetime.date(2026, 1, 31), 1) == datetime.date(2026, 2, 28)
    assert services.add_months(datetime.date(2026, 11, 15), 12) == datetime.date(2027, 11, 15)


def test_request_changes_returns_to_draft_and_drops_fingerprint(coordinator, approver):
    plan = make_plan(author=coordinator)
    version = fill(draft_of(plan), coordinator)
    services.version_submit(version=version, actor=coordinator, proof=signer_proof(coordinator))
    services.version_request_changes(
        version=version, actor=approver, proof=signer_proof(approver), comment="fix section 3"
    )
    version.refresh_from_db()
    assert version.status == S.DRAFT and version.content_hash is None
    section = version.sections.get(key="communication-plan")
    services.section_update(section=section, actor=coordinator, body="fixed")
    services.version_submit(version=version, actor=coordinator, proof=signer_proof(coordinator))
    version.refresh_from_db()
    assert version.content_hash is not None


def test_editing_a_submitted_version_is_refused(coordinator):
    plan = make_plan(author=coordinator)
    version = fill(draft_of(plan), coordinator)
    services.version_submit(version=version, actor=coordinator, proof=signer_proof(coordinator))
    with pytest.raises(ImmutableRecord):
        services.section_update(section=version.sections.first(), actor=coordinator, body="sneaky")
    with pytest.raises(ImmutableRecord):
        services.version_update(version=version, actor=coordinator, change_summary="sneaky")


def test_plan_code_is_frozen_once_a_version_was_submitted(coordinator, approver):
    plan, *_ = published_plan(approver=approver)
    with pytest.raises(ImmutableRecord):
        services.plan_update(plan=plan, actor=plan.owner, code="NEW")


def test_review_due_flag_in_plans_list(coordinator, approver):
    plan, v1, *_ = published_plan(approver=approver)
    assert queries.plans_list().get(pk=plan.pk).review_due is False
    # Time passes: judge the plan a year and a day later.
    later = v1.next_review_due + datetime.timedelta(days=1)
    from unittest import mock

    with mock.patch("django.utils.timezone.localdate", return_value=later):
        assert queries.plans_list().get(pk=plan.pk).review_due is True


def test_version_in_force_follows_publication_and_supersession(coordinator, approver):
    plan, v1, author, _ = published_plan(approver=approver)
    before = v1.published_at - datetime.timedelta(seconds=1)
    assert queries.version_in_force(plan, before) is None
    assert queries.version_in_force(plan, v1.published_at) == v1
    v2 = fill(services.version_create_draft(plan=plan, actor=author), author, "two")
    publish(v2, author=author, approver=approver)
    v1.refresh_from_db()
    assert queries.version_in_force(plan, v1.published_at) == v1
    assert queries.version_in_force(plan, v2.published_at) == v2
    assert queries.version_in_force(plan, timezone.now()) == v2


def test_change_requests_are_listed_on_the_next_draft_and_addressed_on_publish(
    coordinator, approver
):
    plan, v1, author, _ = published_plan(approver=approver)
    request = services.change_request_create(
        plan=plan,
        actor=coordinator,
        summary="Add the on-call rota",
        source="INC-2026-0001 review",
        source_url="/admin/incidents/review/1/",
    )
    v2 = services.version_create_draft(plan=plan, actor=author)
    assert list(queries.open_change_requests(plan)) == [request]
    fill(v2, author, "two")
    services.version_submit(version=v2, actor=author, proof=signer_proof(author))
    late = services.change_request_create(plan=plan, actor=coordinator, summary="Later idea")
    services.version_approve(version=v2, actor=approver, proof=signer_proof(approver))
    services.version_publish(version=v2, actor=approver, proof=signer_proof(approver))
    request.refresh_from_db()
    late.refresh_from_db()
    assert request.status == PlanChangeRequest.Status.ADDRESSED and request.addressed_in == v2
    assert request.history.first().history_change_reason == "Addressed by version 2"
    # Raised after the text was frozen: waits for the next draft.
    assert late.status == PlanChangeRequest.Status.OPEN


def test_change_request_can_be_addressed_by_hand(coordinator, approver):
    plan, v1, *_ = published_plan(approver=approver)
    request = services.change_request_create(plan=plan, actor=coordinator, summary="x")
    services.change_request_address(change_request=request, actor=coordinator, version=v1)
    request.refresh_from_db()
    assert request.status == "addressed"
    with pytest.raises(TransitionNotAllowed):
        services.change_request_address(change_request=request, actor=coordinator, version=v1)


def test_requesting_changes_needs_a_comment(coordinator, approver):
    from core.errors import InvalidInput

    version = fill(draft_of(make_plan(author=coordinator)), coordinator)
    services.version_submit(version=version, actor=coordinator, proof=signer_proof(coordinator))
    with pytest.raises(InvalidInput) as error:
        services.version_request_changes(
            version=version, actor=approver, proof=signer_proof(approver), comment="  "
        )
    assert error.value.field == "comment"
    version.refresh_from_db()
    assert version.status == S.IN_REVIEW

"""The admin: authoring through services, workflow buttons, read-only evidence, fixed-cost lists."""

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from plans import notices, services
from plans.models import Plan, PlanVersion
from tests import factories
from tests.plans.factories import draft_of, fill, make_plan, published_plan
from tests.signing import signer_proof

pytestmark = pytest.mark.django_db


def change_url(version):
    return reverse("admin:plans_planversion_change", args=[version.pk])


def test_coordinator_creates_a_plan_in_the_admin_with_the_template(client, coordinator):
    client.force_login(coordinator)
    staff_group = factories.staff(username="x").groups.get()
    response = client.post(
        reverse("admin:plans_plan_add"),
        {
            "code": "ADM",
            "title": "Admin plan",
            "owner": coordinator.pk,
            "audience": [staff_group.pk],
            "review_interval_months": 12,
            "acknowledgement_days": 14,
            "versions-TOTAL_FORMS": 0,
            "versions-INITIAL_FORMS": 0,
            "change_requests-TOTAL_FORMS": 0,
            "change_requests-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 302, response.content[:2000]
    plan = Plan.objects.get(code="ADM")
    assert list(plan.audience.all()) == [staff_group]
    assert plan.versions.get().sections.count() == 11
    assert plan.history.first().history_user == coordinator


def draft_post_data(version, **changes):
    data = {"change_summary": changes.pop("change_summary", version.change_summary)}
    sections = list(version.sections.order_by("order", "id"))
    data.update(
        {
            "sections-TOTAL_FORMS": len(sections),
            "sections-INITIAL_FORMS": len(sections),
            "reviews-TOTAL_FORMS": 0,
            "reviews-INITIAL_FORMS": 0,
            "signatures-TOTAL_FORMS": 0,
            "signatures-INITIAL_FORMS": 0,
        }
    )
    for i, section in enumerate(sections):
        data[f"sections-{i}-id"] = section.pk
        data[f"sections-{i}-version"] = version.pk
        data[f"sections-{i}-heading"] = section.heading
        data[f"sections-{i}-body"] = changes.get(section.key, section.body)
    return data


def test_draft_sections_are_edited_inline_through_the_services(client, coordinator):
    version = draft_of(make_plan(author=coordinator))
    client.force_login(coordinator)
    page = client.get(change_url(version)).content.decode()
    assert 'name="sections-0-body"' in page and "Submit for review" in page
    response = client.post(
        change_url(version),
        draft_post_data(version, change_summary="First", **{"incident-definition": "Edited"}),
    )
    assert response.status_code == 302
    section = version.sections.get(key="incident-definition")
    assert section.body == "Edited"
    assert section.history.first().history_user == coordinator
    version.refresh_from_db()
    assert version.change_summary == "First" and coordinator in version.editors.all()


def test_sections_are_read_only_once_submitted(client, coordinator):
    version = fill(draft_of(make_plan(author=coordinator)), coordinator)
    services.version_submit(version=version, actor=coordinator, proof=signer_proof(coordinator))
    client.force_login(coordinator)
    page = client.get(change_url(version)).content.decode()
    assert 'name="sections-0-body"' not in page
    response = client.post(
        change_url(version), draft_post_data(version, **{"acknowledgement": "x"})
    )
    assert response.status_code == 403
    assert version.sections.get(key="acknowledgement").body != "x"


def test_workflow_buttons_call_the_services_and_show_refusals(client, coordinator, approver):
    version = fill(draft_of(make_plan(author=coordinator)), coordinator)
    client.force_login(coordinator)
    url = reverse("admin:plans_planversion_workflow", args=[version.pk])
    client.post(url, {"password": "pw", "step": "submit", "comment": "ready"})
    version.refresh_from_db()
    assert version.status == "in_review"
    assert version.reviews.last().comment == "ready"
    # The coordinator lacks the approver role: refused with a message, nothing changes.
    response = client.post(url, {"password": "pw", "step": "approve"})
    assert response.status_code == 302
    assert any("approver role" in str(m) for m in get_messages(response.wsgi_request))
    both = factories.UserFactory(
        username="both", is_staff=True, groups=["Coordinators", "Plan approvers"]
    )
    services.version_request_changes(
        version=version, actor=approver, proof=signer_proof(approver), comment="again"
    )
    services.section_update(section=version.sections.first(), actor=both, body="both edited")
    services.version_submit(version=version, actor=coordinator, proof=signer_proof(coordinator))
    client.force_login(both)
    response = client.post(url, {"password": "pw", "step": "approve"})
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("may not approve" in m for m in messages)
    client.force_login(approver)
    client.post(url, {"password": "pw", "step": "approve", "comment": "ok"})
    client.post(url, {"password": "pw", "step": "publish"})
    version.refresh_from_db()
    assert version.status == "published"
    assert client.get(url).status_code == 405
    client.post(url, {"password": "pw", "step": "nonsense"})


def test_new_draft_button(client, approver):
    plan, v1, author, _ = published_plan(approver=approver)
    client.force_login(author)
    response = client.post(reverse("admin:plans_plan_new_draft", args=[plan.pk]))
    draft = plan.versions.get(status="draft")
    assert response["Location"] == change_url(draft)
    again = client.post(reverse("admin:plans_plan_new_draft", args=[plan.pk]))
    assert again["Location"] == reverse("admin:plans_plan_change", args=[plan.pk])


def test_acknowledgement_admin_is_read_only(client, superuser, approver):
    plan, version, author, _ = published_plan(approver=approver)
    ack, _ = services.acknowledgement_create(
        version=version,
        actor=author,
        proof=signer_proof(author),
        full_name=author.get_full_name(),
        content_hash=version.content_hash,
    )
    client.force_login(superuser)
    assert client.get(reverse("admin:plans_acknowledgement_add")).status_code == 403
    assert (
        client.get(reverse("admin:plans_acknowledgement_delete", args=[ack.pk])).status_code == 403
    )
    page = client.get(reverse("admin:plans_acknowledgement_change", args=[ack.pk]))
    assert page.status_code == 200 and 'name="full_name"' not in page.content.decode()
    history = client.get(reverse("admin:plans_acknowledgement_history", args=[ack.pk]))
    assert history.status_code == 200


def test_compare_page_highlights_changed_words(client, compliance_user, approver):
    plan, v1, author, _ = published_plan(approver=approver)
    v2 = services.version_create_draft(plan=plan, actor=author)
    services.section_update(
        section=v2.sections.get(key="incident-reporting"),
        actor=author,
        body="Do the <em>right</em> thing fast. (incident-reporting)",
    )
    client.force_login(compliance_user)
    url = reverse("admin:plans_planversion_compare")
    page = client.get(f"{url}?plan={plan.pk}&a={v1.pk}&b={v2.pk}").content.decode()
    assert "<ins>&lt;em&gt;right&lt;/em&gt;</ins>" in page or "&lt;em&gt;right&lt;/em&gt;" in page
    assert "<ins>" in page and "<del>" in page and "<em>right</em>" not in page
    assert client.get(f"{url}?plan=abc").status_code == 404


def test_version_page_links_compliance_for_compliance_staff(client, compliance_user, approver):
    plan, version, *_ = published_plan(approver=approver)
    client.force_login(compliance_user)
    page = client.get(change_url(version)).content.decode()
    assert reverse("admin:plans_planversion_compliance", args=[version.pk]) in page
    assert 'value="approve"' not in page


def _changelist_queries(client, user, url):
    client.force_login(user)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx)


@pytest.mark.parametrize(
    "url_name",
    ["admin:plans_plan_changelist", "admin:plans_planversion_changelist"],
)
def test_changelists_cost_the_same_at_5_and_50_rows(client, compliance_user, url_name):
    approver = factories.approver(username="ap")
    counts = []
    for size in (5, 50):
        for i in range(size - (0 if not counts else 5)):
            published_plan(code=f"C{size}-{i}", approver=approver)
        counts.append(_changelist_queries(client, compliance_user, reverse(url_name)))
    assert counts[0] == counts[1]


def test_acknowledgement_changelist_costs_the_same_at_5_and_50_rows(client, compliance_user):
    plan, version, *_ = published_plan(code="ACKS")
    counts = []
    for size in (5, 50):
        for i in range(size - (0 if not counts else 5)):
            person = factories.staff(username=f"a{size}-{i}", first_name="A", last_name=str(i))
            services.acknowledgement_create(
                version=version,
                actor=person,
                proof=signer_proof(person),
                full_name=person.get_full_name(),
                content_hash=version.content_hash,
            )
        counts.append(
            _changelist_queries(
                client, compliance_user, reverse("admin:plans_acknowledgement_changelist")
            )
        )
    assert counts[0] == counts[1]


def test_version_changelist_shows_progress_and_review_flag(client, compliance_user, approver):
    plan, version, *_ = published_plan(approver=approver)
    client.force_login(compliance_user)
    page = client.get(reverse("admin:plans_planversion_changelist")).content.decode()
    audience = plan.audience.get().user_set.count()
    assert f"0/{audience} (0%)" in page
    assert PlanVersion.objects.count() == 1


def test_plan_changelist_shows_current_version_progress_and_review_due(
    client, compliance_user, approver
):
    plan, version, author, _ = published_plan(approver=approver)
    services.acknowledgement_create(
        version=version,
        actor=author,
        proof=signer_proof(author),
        full_name=author.get_full_name(),
        content_hash=version.content_hash,
    )
    audience = plan.audience.get().user_set.filter(is_active=True).count()
    client.force_login(compliance_user)
    page = client.get(reverse("admin:plans_plan_changelist")).content.decode()
    assert f"1/{audience} (" in page
    page = client.get(reverse("admin:plans_planversion_changelist")).content.decode()
    assert f"1/{audience} (" in page


def plan_post_data(plan, **changes):
    data = {
        "code": plan.code,
        "title": plan.title,
        "purpose": plan.purpose,
        "scope": plan.scope,
        "objectives": plan.objectives,
        "owner": plan.owner_id,
        "audience": list(plan.audience.values_list("pk", flat=True)),
        "review_interval_months": plan.review_interval_months,
        "acknowledgement_days": plan.acknowledgement_days,
        "versions-TOTAL_FORMS": 0,
        "versions-INITIAL_FORMS": 0,
        "change_requests-TOTAL_FORMS": 0,
        "change_requests-INITIAL_FORMS": 0,
    }
    data.update(changes)
    return data


def test_editing_a_plan_in_the_admin_goes_through_the_service(client, approver):
    plan, version, author, _ = published_plan(approver=approver)
    client.force_login(author)
    url = reverse("admin:plans_plan_change", args=[plan.pk])
    response = client.post(url, plan_post_data(plan, title="Renamed", audience=[]))
    assert response.status_code == 302
    plan.refresh_from_db()
    assert plan.title == "Renamed" and not plan.audience.exists()
    assert plan.history.first().history_user == author
    # The code is part of every fingerprint: refused with a message, nothing saved.
    response = client.post(url, plan_post_data(plan, code="NEWCODE", title="Again"))
    assert response.status_code == 302
    assert any("code" in str(m) for m in get_messages(response.wsgi_request))
    plan.refresh_from_db()
    assert plan.code == "IRP" and plan.title == "Renamed"


def test_change_request_added_in_the_admin_is_listed_on_the_draft(client, coordinator, approver):
    plan, version, author, _ = published_plan(approver=approver)
    draft = services.version_create_draft(plan=plan, actor=author)
    client.force_login(coordinator)
    response = client.post(
        reverse("admin:plans_planchangerequest_add"),
        {"plan": plan.pk, "summary": "Name the rota", "details": "", "source": "Drill 3"},
    )
    assert response.status_code == 302
    page = client.get(change_url(draft)).content.decode()
    assert "Name the rota" in page and "Drill 3" in page


@pytest.mark.parametrize(
    "url_name",
    [
        "admin:plans_review_changelist",
        "admin:plans_planchangerequest_changelist",
        "admin:plans_acknowledgementnotice_changelist",
        "admin:plans_reminderclock_changelist",
        "admin:plans_section_changelist",
    ],
)
def test_evidence_changelists_cost_the_same_at_5_and_50_plans(client, superuser, url_name):
    approver = factories.approver(username="ap")
    counts = []
    for size in (5, 50):
        for i in range(size - (0 if not counts else 5)):
            plan, version, author, _ = published_plan(code=f"E{size}-{i}", approver=approver)
            services.change_request_create(plan=plan, actor=author, summary=f"r{i}")
            notices.notice_record(user=author, version=version, actor=author)
            notices.reminder_send(user=author, actor=author, versions=[version])
        counts.append(_changelist_queries(client, superuser, reverse(url_name)))
    assert counts[0] == counts[1]


def test_every_plans_admin_page_renders_for_a_superuser(client, superuser, approver):
    plan, v1, author, _ = published_plan(approver=approver)
    ack, _ = services.acknowledgement_create(
        version=v1,
        actor=author,
        proof=signer_proof(author),
        full_name=author.get_full_name(),
        content_hash=v1.content_hash,
    )
    request = services.change_request_create(plan=plan, actor=author, summary="s")
    v2 = services.version_create_draft(plan=plan, actor=author)
    client.force_login(superuser)
    objects = {
        "plan": plan,
        "planversion": v2,
        "section": v2.sections.first(),
        "review": v1.reviews.first(),
        "acknowledgement": ack,
        "planchangerequest": request,
    }
    for model, obj in objects.items():
        for view, args in (
            ("changelist", []),
            ("change", [obj.pk]),
            ("history", [obj.pk]),
        ):
            url = reverse(f"admin:plans_{model}_{view}", args=args)
            assert client.get(url).status_code == 200, url
    assert client.get(reverse("admin:plans_plan_add")).status_code == 200
    assert client.get(reverse("admin:plans_planchangerequest_add")).status_code == 200
    assert client.get(reverse("admin:plans_planversion_change", args=[v1.pk])).status_code == 200
    assert (
        client.get(reverse("admin:plans_planversion_compare") + f"?plan={plan.pk}").status_code
        == 200
    )
    assert client.get(reverse("admin:plans_planversion_add")).status_code == 403


def test_reviews_of_a_draft_are_read_only_by_those_who_may_read_drafts(client, approver):
    """A custom group holding `view_review` alone sees the reviews of published versions, not
    a reviewer's comments on a draft it may not read (the list, the page and its history)."""
    from django.contrib.auth.models import Group, Permission

    from plans.models import Review

    plan, v1, author, _ = published_plan(approver=approver)
    v2 = fill(services.version_create_draft(plan=plan, actor=author), author, text="Second")
    services.version_submit(version=v2, actor=author, proof=signer_proof(author))
    services.version_request_changes(
        version=v2, actor=approver, proof=signer_proof(approver), comment="Name the deputy"
    )
    hidden = Review.objects.get(version=v2, decision=Review.Decision.CHANGES_REQUESTED)
    shown = Review.objects.filter(version=v1).first()
    reader = factories.staff(username="auditor-lite")
    reader.is_staff = True
    reader.save()
    group = Group.objects.create(name="Review readers")
    group.permissions.add(Permission.objects.get(codename="view_review"))
    reader.groups.add(group)
    client.force_login(reader)
    listing = client.get(reverse("admin:plans_review_changelist")).content.decode()
    assert "Name the deputy" not in listing and str(v1) in listing
    for name in ("admin:plans_review_change", "admin:plans_review_history"):
        assert client.get(reverse(name, args=[hidden.pk])).status_code in (302, 404)
    assert client.get(reverse("admin:plans_review_change", args=[shown.pk])).status_code == 200

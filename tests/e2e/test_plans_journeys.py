"""Plan journeys in a real browser: author → approver → publish → compliance compares; staff acknowledges."""

import re

import pytest
from playwright.sync_api import expect

from plans.models import Acknowledgement, PlanVersion
from tests import factories
from tests.plans.factories import published_plan

pytestmark = pytest.mark.django_db(transaction=True)


def test_author_and_approver_publish_a_new_version_and_compliance_compares(
    page, live_server, shot, admin_sign_in
):
    plan, v1, author, approver = published_plan(code="IRP", title="Incident response plan")
    factories.compliance(username="auditor")

    # The author starts a new draft from the plan page and rewrites one section.
    admin_sign_in(page, author.username)
    page.goto(f"{live_server.url}/admin/plans/plan/{plan.pk}/change/")
    page.get_by_role("button", name="Start a new draft from the latest version").click()
    draft = PlanVersion.objects.get(plan=plan, status="draft")
    assert draft.number == 2
    page.goto(f"{live_server.url}/admin/plans/planversion/{draft.pk}/change/")
    body = page.locator("textarea[name$='-body']").first
    body.fill("Report every suspected incident within one hour to the service desk.")
    summary = page.get_by_label(re.compile("Change summary", re.I))
    summary.fill("Reporting deadline shortened to one hour.")
    page.get_by_role("button", name="Save and continue editing").click()
    # Each step is an electronic signature: the password is re-entered.
    page.get_by_label(re.compile("Your password", re.I)).fill("pw")
    page.get_by_role("button", name="Submit for review").click()
    expect(page.locator(".messagelist")).to_contain_text("Submit for review: done")
    shot(page, "admin-plan-version-submitted")

    # The author may not approve their own version (the button is not even offered).
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)

    # The approver approves and publishes.
    admin_sign_in(page, approver.username)
    page.goto(f"{live_server.url}/admin/plans/planversion/{draft.pk}/change/")
    page.get_by_label("Comment (recorded with the step)").fill("Clear and proportionate.")
    page.get_by_label(re.compile("Your password", re.I)).fill("pw")
    page.get_by_role("button", name="Approve").click()
    expect(page.locator(".messagelist")).to_contain_text("Approve: done")
    page.get_by_label(re.compile("Your password", re.I)).fill("pw")
    page.get_by_role("button", name="Publish").click()
    expect(page.locator(".messagelist")).to_contain_text("Publish: done")
    draft.refresh_from_db()
    v1.refresh_from_db()
    assert (draft.status, v1.status) == ("published", "superseded")

    # Compliance compares the new version with the previous one.
    admin_sign_in(page, "auditor")
    page.goto(
        f"{live_server.url}/admin/plans/planversion/compare/?plan={plan.pk}&a={v1.pk}&b={draft.pk}"
    )
    expect(page.get_by_text("Reporting deadline shortened to one hour.")).to_be_visible()
    expect(page.locator(".plan-diff ins").first).to_contain_text("one hour")
    expect(page.locator(".plan-diff del").first).to_be_visible()
    shot(page, "admin-plan-compare")


def test_staff_reads_acknowledges_and_sees_the_receipt(page, live_server, sign_in, shot):
    plan, version, author, approver = published_plan(code="SEC", title="Security incident plan")
    staff = factories.staff(username="sam", first_name="Sam", last_name="Staff")

    sign_in(page, "sam")
    expect(page.get_by_text("Security incident plan")).to_be_visible()
    shot(page, "self-service-pending")
    page.get_by_role("link", name=re.compile("Security incident plan")).first.click()
    expect(page.get_by_role("heading", name="Acknowledge this version")).to_be_visible()
    shot(page, "self-service-plan-version")

    # A name that is not theirs is refused and nothing is recorded.
    page.get_by_role("checkbox").check()
    page.get_by_label(re.compile("full name", re.I)).fill("Someone Else")
    page.get_by_label(re.compile("Your password", re.I)).fill("pw")
    page.get_by_role("button", name="Acknowledge").click()
    expect(page.locator(".errorlist")).to_be_visible()
    assert not Acknowledgement.objects.filter(user=staff).exists()

    page.get_by_role("checkbox").check()
    page.get_by_label(re.compile("full name", re.I)).fill("Sam Staff")
    # A wrong password is refused (and counted by the sign-in lockout); the right one signs.
    page.get_by_label(re.compile("Your password", re.I)).fill("not my password")
    page.get_by_role("button", name="Acknowledge").click()
    expect(page.locator(".errorlist")).to_contain_text("password")
    assert not Acknowledgement.objects.filter(user=staff).exists()
    page.get_by_role("checkbox").check()
    page.get_by_label(re.compile("Your password", re.I)).fill("pw")
    page.get_by_role("button", name="Acknowledge").click()
    # The fingerprint twice: the acknowledgement's, and in the electronic signature's line.
    expect(page.get_by_text(version.content_hash)).to_have_count(2)
    expect(page.get_by_text("Electronic signature")).to_be_visible()
    shot(page, "self-service-receipt")
    ack = Acknowledgement.objects.get(user=staff, version=version)
    assert ack.content_hash == version.content_hash and ack.full_name == "Sam Staff"

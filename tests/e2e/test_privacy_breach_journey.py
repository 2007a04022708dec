"""A P1 personal-data breach run from report to closed in a real browser, without leaving the
incident's page: the GDPR clock is on the page from the start, the submission to the
supervisory authority is recorded there before the 72 hours are up, the review is written
and completed there, and the incident closes there."""

import datetime

import pytest
from playwright.sync_api import expect

from incidents.demo import seed_obligations
from incidents.models import Category, ObligationSubmission, Status
from tests import factories
from tests.incidents import factories as f

pytestmark = pytest.mark.django_db(transaction=True)

GDPR = "GDPR Art. 33 personal-data breach notification"


def test_coordinator_meets_the_gdpr_clock_and_closes_a_p1_breach_from_its_page(
    page, live_server, admin_sign_in, shot
):
    f.targets()
    coordinator = factories.coordinator(username="casey", first_name="Casey", last_name="Lind")
    privacy, _ = Category.objects.get_or_create(name="Privacy")
    seed_obligations(coordinator)
    reporter = factories.staff(username="sam", first_name="Sam", last_name="Staff")
    incident = f.incident(
        reporter,
        title="Customer list e-mailed to the wrong recipients",
        impact=1,
        urgency=1,
        category=privacy,
        occurred_hours_ago=3,
    )
    assert incident.priority == "P1"
    url = f"{live_server.url}/admin/incidents/incident/{incident.pk}/change/"

    admin_sign_in(page, "casey")
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(url)
    obligations = page.locator("#workspace-obligations")
    gdpr = obligations.locator(f'li[data-obligation="{GDPR}"]')
    # 72 hours from the report (the default moment of awareness), in the reader's zone (UTC).
    due = (incident.reported_at + datetime.timedelta(hours=72)).strftime("%d %b %Y %H:%M UTC")
    expect(gdpr).to_contain_text(f"left (due {due})")
    expect(obligations).to_contain_text("UTC")

    def step(status, reason):
        page.get_by_label(f"Why move to {status}?").fill(reason)
        page.get_by_role("button", name=f"Move to {status}").click()
        expect(page.locator(".messagelist")).to_contain_text(f"moved to {status}.")

    step("triaged", "Confirmed: 412 customer addresses in the attachment.")
    step("investigating", "Mail gateway logs pulled.")

    # The notification to the supervisory authority, recorded on the page itself.
    form = gdpr.get_by_role("form", name=f"Record the submission of {GDPR}")
    form.get_by_label("Sent to").fill("Datatilsynet")
    form.get_by_label("Their reference").fill("DT-2026-0417")
    form.get_by_label("Text").fill("Initial notification under Art. 33: 412 data subjects.")
    shot(page, "admin-incident-obligations")
    form.get_by_role("button", name="Record the submission").click()
    expect(page).to_have_url(url)
    expect(page.locator(".messagelist")).to_contain_text("recorded")
    expect(gdpr).to_contain_text("met")
    expect(gdpr).to_contain_text("to Datatilsynet")
    submission = ObligationSubmission.objects.get(incident=incident)
    assert submission.reference == "DT-2026-0417" and submission.submitted_by == coordinator

    for status, reason in (
        ("contained", "Recipients asked to delete; recall sent."),
        ("eradicated", "Distribution list fixed."),
        ("recovered", "Deletion confirmed by all recipients."),
    ):
        step(status, reason)

    # A P1 closes only after its review: written and completed on the page.
    review = page.locator("#workspace-review")
    review.get_by_label("Summary").fill("A customer list went to an external distribution list.")
    review.get_by_label("Root cause").fill("Auto-complete picked the external list.")
    review.get_by_label("Lessons learned").fill("Warn before sending attachments outside.")
    review.get_by_role("button", name="Save the review").click()
    expect(page.locator(".messagelist")).to_contain_text("review saved.")
    review.get_by_role("button", name="Save and complete the review").click()
    expect(page.locator(".messagelist")).to_contain_text("review completed.")
    step("closed", "Notified, contained and reviewed.")
    expect(page.locator("#workspace-phases")).to_contain_text("now Closed")
    expect(page.locator("#workspace-obligations")).to_contain_text("to Datatilsynet")

    incident.refresh_from_db()
    assert incident.status == Status.CLOSED
    assert page.url == url  # never left the incident's page

"""The incident page as the workspace, in a real browser: a coordinator moves an incident through
its phases, adds a note and sends a stakeholder update after its preview, all from its page."""

import pytest
from playwright.sync_api import expect

from incidents.models import Communication, MessageTemplate, Status
from tests import factories
from tests.incidents import factories as f

pytestmark = pytest.mark.django_db(transaction=True)


def test_coordinator_runs_an_incident_from_its_page(page, live_server, admin_sign_in, shot):
    f.targets()
    factories.coordinator(username="casey", first_name="Casey", last_name="Coordinator")
    reporter = factories.staff(username="sam", first_name="Sam", last_name="Staff")
    incident = f.incident(reporter, title="Payroll server unreachable", impact=2, urgency=2)
    MessageTemplate.objects.create(
        name="Status update",
        subject="{reference}: now {status}",
        body="{title} is {status} (priority {priority}). Next update by {next_update_due}.",
    )
    url = f"{live_server.url}/admin/incidents/incident/{incident.pk}/change/"

    admin_sign_in(page, "casey")
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(url)
    phases = page.locator("#workspace-phases")
    # Only the next phases are offered: from reported, triage or cancel.
    expect(phases.get_by_role("button")).to_have_text(["Move to triaged", "Move to cancelled"])
    expect(page.locator("#workspace-targets")).to_contain_text("Next stakeholder update:")

    for status, reason in (
        ("triaged", "Confirmed with the payroll team."),
        ("investigating", "Network team is looking."),
    ):
        page.get_by_label(f"Why move to {status}?").fill(reason)
        page.get_by_role("button", name=f"Move to {status}").click()
        expect(page.locator(".messagelist")).to_contain_text(f"moved to {status}.")
        expect(page.locator("#workspace-phases")).to_contain_text(f"now {status.title()}")
    incident.refresh_from_db()
    assert incident.status == Status.INVESTIGATING
    assert incident.history.first().history_change_reason == (
        "Triaged → Investigating: Network team is looking."
    )

    page.locator("#workspace-note").get_by_label("Note").fill("Switch in rack 4 replaced.")
    page.get_by_role("button", name="Add note").click()
    expect(page.locator(".messagelist")).to_contain_text("note added to the timeline")
    expect(page.locator("#timeline-group")).to_contain_text("Switch in rack 4 replaced.")
    shot(page, "admin-incident-workspace")

    # An update from the template: first its preview, then the send.
    update = page.locator("#workspace-communicate")
    update.get_by_label("Template").select_option(label="Status update")
    update.get_by_label("Audience").fill("payroll-users@example.org")
    page.get_by_role("button", name="Preview the update").click()
    expect(page.locator("#preview-subject")).to_have_text(
        f"{incident.reference}: now Investigating"
    )
    expect(page.locator("#preview-recipients")).to_have_text("payroll-users@example.org")
    assert not Communication.objects.exists()
    shot(page, "admin-incident-update-preview")
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".messagelist")).to_contain_text("update queued for sending")
    sent = Communication.objects.get(incident=incident)
    assert sent.subject == f"{incident.reference}: now Investigating"
    expect(page.locator("#workspace-communicate")).to_contain_text(sent.subject)

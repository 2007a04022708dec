"""Incident journey in a real browser: staff reports, the coordinator triages, escalates and recovers it."""

import re

import pytest
from playwright.sync_api import expect

from incidents.models import Escalation, Incident
from tests import factories
from tests.incidents import factories as f

pytestmark = pytest.mark.django_db(transaction=True)


def run_action(page, live_server, incident, action_label, **fields):
    """Select one incident in the admin list, pick a bulk action, fill its form and apply it."""
    page.goto(f"{live_server.url}/admin/incidents/incident/")
    page.locator(f"input.action-select[value='{incident.pk}']").check()
    page.locator("select[name='action']").select_option(label=action_label)
    page.get_by_role("button", name="Go").click()
    for label, value in fields.items():
        control = page.get_by_label(label, exact=True)
        if "admin-autocomplete" in (control.get_attribute("class") or ""):
            # A person is found by typing part of their name (the admin's autocomplete).
            control.locator("xpath=following-sibling::span[1]").click()
            page.locator(".select2-search__field").fill(value)
            page.locator(".select2-results__option", has_text=value).first.click()
        elif control.evaluate("el => el.tagName") == "SELECT":
            control.select_option(label=value)
        else:
            control.fill(value)
    page.locator("#content-main input[type='submit']").click()
    expect(page.locator(".messagelist")).to_be_visible()


def test_staff_reports_and_the_coordinator_takes_it_to_recovered(
    page, live_server, sign_in, admin_sign_in, shot
):
    f.targets()
    f.category("Data breach")
    factories.staff(username="sam", first_name="Sam", last_name="Staff")
    factories.coordinator(username="casey", first_name="Casey", last_name="Coordinator")
    factories.coordinator(username="boss", first_name="Bo", last_name="Boss", email="boss@example.org")

    # Staff report on the self-service site and land on their report.
    sign_in(page, "sam", next_url="/incidents/report/")
    page.get_by_label("Short title").fill("Customer list emailed to the wrong address")
    page.get_by_label("What happened?").fill("A spreadsheet with 200 customers went to an outside address.")
    page.get_by_label("When did it happen?").fill("2026-11-24T09:15")
    page.get_by_label("Kind of incident").select_option(label="Data breach")
    page.get_by_label("How widespread is it?").select_option(index=1)
    page.get_by_label("How urgent is it?").select_option(index=0)
    page.get_by_role("button", name="Send report").click()
    expect(page.get_by_text(re.compile(r"Your report is INC-\d{4}-\d{4}"))).to_be_visible()
    incident = Incident.objects.get()
    assert incident.reporter.username == "sam"
    assert incident.priority == "P1"

    # The coordinator finds it in the admin, triages and escalates it.
    admin_sign_in(page, "casey")
    page.goto(f"{live_server.url}/admin/incidents/incident/")
    expect(page.get_by_role("link", name=incident.reference)).to_be_visible()
    shot(page, "admin-incident-list")
    run_action(
        page, live_server, incident, "Move selected incidents to another phase…",
        **{"Move to": "Triaged", "Why (recorded in the history)": "Confirmed: personal data left the company."},
    )
    expect(page.locator(".messagelist")).to_contain_text("1 incident(s) done")
    run_action(
        page, live_server, incident, "Escalate selected incidents…",
        **{"Level": "3 · senior management", "To person": "boss", "Why": "Regulator must hear within 72 hours."},
    )
    escalation = Escalation.objects.get(incident=incident)
    assert escalation.to_user.username == "boss"

    # It moves on, phase by phase, to recovered.
    for status in ("Investigating", "Contained", "Eradicated", "Recovered"):
        run_action(
            page, live_server, incident, "Move selected incidents to another phase…",
            **{"Move to": status, "Why (recorded in the history)": f"{status} per runbook."},
        )
        expect(page.locator(".messagelist")).to_contain_text("done")
    incident.refresh_from_db()
    assert incident.status == "recovered"

    # A step the lifecycle forbids is refused by reference and changes nothing.
    run_action(
        page, live_server, incident, "Move selected incidents to another phase…",
        **{"Move to": "Closed", "Why (recorded in the history)": "Done."},
    )
    expect(page.locator(".messagelist")).to_contain_text(incident.reference)
    incident.refresh_from_db()
    assert incident.status == "recovered"  # a P1 needs its completed review first

    # The incident page shows the whole timeline; its history shows who and why.
    page.goto(f"{live_server.url}/admin/incidents/incident/{incident.pk}/change/")
    timeline = page.locator("#timeline-group td.field-text")
    expect(timeline.filter(has_text="Escalated to Bo Boss").first).to_be_visible()
    expect(
        timeline.filter(has_text="Eradicated → Recovered — Recovered per runbook.").first
    ).to_be_visible()
    shot(page, "admin-incident-timeline")
    page.goto(f"{live_server.url}/admin/incidents/incident/{incident.pk}/history/")
    expect(page.get_by_text("Triaged → Investigating: Investigating per runbook.")).to_be_visible()

    # The dashboard counts it.
    page.goto(f"{live_server.url}/admin/incidents/incident/dashboard/")
    expect(page.get_by_role("heading", name="Incident dashboard")).to_be_visible()
    shot(page, "admin-incident-dashboard")

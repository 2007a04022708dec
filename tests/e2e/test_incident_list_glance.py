"""The incident list at 1366 px with the admin navigation open: one line per reference, no
sideways scroll, the worst target in words."""

import os
from io import StringIO

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from core.demo import DEMO_PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_demo_list_reads_at_1366_px_with_the_navigation_open(
    page, live_server, admin_sign_in, settings, shot
):
    settings.DEBUG = True  # the demo loader runs only in development
    call_command("demo", stdout=StringIO())
    page.set_viewport_size({"width": 1366, "height": 900})
    admin_sign_in(page, "coordinator", DEMO_PASSWORD)
    page.goto(f"{live_server.url}/admin/incidents/incident/")
    expect(page.locator("#nav-sidebar")).to_be_visible()
    expect(page.locator("#result_list")).to_contain_text("left")
    shot(page, "incident-list-1366")
    if os.environ.get("LIST_SHOT"):
        page.screenshot(path=os.environ["LIST_SHOT"], full_page=False)
    # No sideways scroll: the page is no wider than the window.
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366
    results = page.locator("#changelist .results")
    widths = results.evaluate("el => [el.scrollWidth, el.clientWidth]")
    assert widths[0] <= widths[1], f"the list scrolls sideways: {widths}"
    # Each reference on one line: its link is one line box.
    lines = page.eval_on_selector_all(
        "#result_list th.field-reference a", "links => links.map(a => a.getClientRects().length)"
    )
    assert lines and set(lines) == {1}, lines

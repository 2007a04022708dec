"""Attendance import in a real browser: one bad row and nothing is imported; fixed, everything is."""

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.training.factories import make_course, make_session
from training.models import Course, Record

pytestmark = pytest.mark.django_db(transaction=True)


def test_coordinator_imports_a_sign_in_sheet_with_a_bad_row_then_a_good_one(
    page, live_server, admin_sign_in, sign_in, shot, tmp_path
):
    factories.coordinator(username="casey")
    for name in ("alex", "jordan", "priya"):
        factories.staff(username=name)
    course = make_course("Quarterly fire drill", kind=Course.Kind.DRILL, validity_days=90)
    session = make_session(course, title="Drill, building A")

    bad = tmp_path / "sign-in-bad.csv"
    bad.write_text(
        "username,session,status,completed_at,score\n"
        f"alex,{session.pk},completed,,90\n"
        f"jordan,{session.pk},attended,,\n"
        f"nobody,{session.pk},completed,,\n"
    )
    admin_sign_in(page, "casey")
    page.goto(f"{live_server.url}/admin/training/record/")
    page.get_by_role("link", name="Import attendance").click()
    page.locator("input[type='file']").set_input_files(str(bad))
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_text("1 row(s) have errors")).to_be_visible()
    expect(page.get_by_text("unknown user 'nobody'")).to_be_visible()
    expect(page.get_by_role("button", name="Import these")).to_have_count(0)
    shot(page, "admin-training-import-errors")
    assert Record.objects.count() == 0

    good = tmp_path / "sign-in.csv"
    good.write_text(
        "username,session,status,completed_at,score\n"
        f"alex,{session.pk},completed,,90\n"
        f"jordan,{session.pk},attended,,\n"
        f"priya,{session.pk},no_show,,\n"
    )
    page.locator("input[type='file']").set_input_files(str(good))
    page.get_by_role("button", name="Preview").click()
    page.get_by_role("button", name="Import these 3 rows").click()
    expect(page.locator(".messagelist")).to_contain_text("Imported 3 row(s)")
    records = {r.user.username: r for r in Record.objects.select_related("user")}
    assert {u: r.status for u, r in records.items()} == {
        "alex": "completed",
        "jordan": "attended",
        "priya": "no_show",
    }
    assert records["alex"].valid_until is not None
    assert records["alex"].history.first().history_user.username == "casey"

    # Alex sees the drill as current on the self-service site; Priya (no-show) has not done it yet.
    page.context.clear_cookies()
    sign_in(page, "alex", next_url="/training/")
    row = page.get_by_role("row", name="Quarterly fire drill")
    expect(row.first).to_contain_text("Current")
    shot(page, "self-service-my-training")
    page.context.clear_cookies()
    sign_in(page, "priya", next_url="/training/")
    expect(page.get_by_role("row", name="Quarterly fire drill").first).to_contain_text("Not done yet")

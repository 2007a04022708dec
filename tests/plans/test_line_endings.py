"""One line ending for every fingerprinted, diffed or signed text, whatever the door."""

import pytest

from plans import queries, services
from plans.fingerprint import version_fingerprint
from plans.models import Section
from tests.plans.factories import draft_of, fill, make_plan, publish
from tests.plans.test_admin import change_url, draft_post_data

pytestmark = pytest.mark.django_db


def test_a_section_saved_with_crlf_is_stored_with_lf(api, coordinator):
    plan = make_plan(author=coordinator, code="LE")
    version = draft_of(plan)
    section = version.sections.get(key="incident-reporting")
    services.section_update(section=section, actor=coordinator, body="Call\r\nthe desk\rnow")
    assert Section.objects.get(pk=section.pk).body == "Call\nthe desk\nnow"
    response = api(coordinator).patch(
        f"/api/v1/plan-versions/{version.pk}/sections/incident-reporting/",
        {"body": "Over\r\nthe API"},
        format="json",
    )
    assert response.status_code == 200 and response.json()["body"] == "Over\nthe API"
    services.version_update(version=version, actor=coordinator, change_summary="One\r\nTwo")
    version.refresh_from_db()
    assert version.change_summary == "One\nTwo"


def test_the_admin_draft_page_stores_lf(client, coordinator):
    version = draft_of(make_plan(author=coordinator, code="AD"))
    client.force_login(coordinator)
    data = draft_post_data(
        version, change_summary="Why\r\nand how", **{"incident-reporting": "Line one\r\nLine two"}
    )
    assert client.post(change_url(version), data).status_code == 302
    version.refresh_from_db()
    assert version.sections.get(key="incident-reporting").body == "Line one\nLine two"
    assert version.change_summary == "Why\nand how"


def test_a_difference_in_line_endings_alone_is_no_change(coordinator, approver):
    plan = make_plan(author=coordinator, code="CR")
    v1 = fill(draft_of(plan), coordinator)
    # A version published before line endings were normalised keeps its CRLF byte for byte.
    legacy = v1.sections.get(key="incident-reporting")
    Section.objects.filter(pk=legacy.pk).update(body="First\r\nSecond")
    publish(v1, author=coordinator, approver=approver)
    assert v1.content_hash == version_fingerprint(v1)
    v2 = services.version_create_draft(plan=plan, actor=coordinator)
    copied = v2.sections.get(key="incident-reporting")
    assert copied.body == "First\nSecond"
    diff = queries.version_diff(v1, v2)
    states = {row["key"]: row["state"] for row in diff["sections"]}
    assert set(states.values()) == {"unchanged"}
    ops = next(r for r in diff["sections"] if r["key"] == "incident-reporting")["body_changes"]
    assert all(op["op"] == "equal" for op in ops)


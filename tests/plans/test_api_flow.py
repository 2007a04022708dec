"""The whole journey an outside client takes through the plans API."""

import hashlib
import json

import pytest
from django.core import mail

from tests import factories

pytestmark = pytest.mark.django_db


def recompute(plan_code, number, sections):
    canonical = json.dumps(
        {
            "plan": plan_code,
            "version": number,
            "sections": [
                {"key": s["key"], "heading": s["heading"], "body": s["body"]} for s in sections
            ],
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def test_full_plan_journey_over_the_api(
    api, coordinator, approver, settings, django_capture_on_commit_callbacks
):
    settings.SITE_URL = "https://ir.example.org"
    staff = factories.staff(username="sam", first_name="Sam", last_name="Staff")
    author = api(coordinator)
    created = author.post(
        "/api/v1/plans/",
        {"code": "IRP", "title": "Incident response plan", "audience": ["Staff"]},
    )
    assert created.status_code == 201, created.content
    plan = created.json()
    assert plan["current_version"] is None and plan["audience"] == ["Staff"]
    draft_id = plan["latest_version"]["id"]
    version = author.get(f"/api/v1/plan-versions/{draft_id}/").json()
    assert [s["key"] for s in version["sections"]][0] == "incident-definition"
    assert len(version["sections"]) == 11 and version["content_hash"] is None

    edited = author.patch(
        f"/api/v1/plan-versions/{draft_id}/sections/incident-definition/",
        {"body": "An *incident* is… ünïcode"},
    )
    assert edited.status_code == 200, edited.content
    submitted = author.post(
        f"/api/v1/plan-versions/{draft_id}/submit/", {"password": "pw", "comment": "ready"}
    )
    assert submitted.status_code == 200, submitted.content
    body = submitted.json()
    assert body["status"] == "in_review"
    assert body["content_hash"] == recompute("IRP", 1, body["sections"])

    own = author.post(f"/api/v1/plan-versions/{draft_id}/approve/", {"password": "pw"})
    assert own.status_code == 403
    assert (
        api(approver)
        .post(f"/api/v1/plan-versions/{draft_id}/approve/", {"password": "pw"})
        .status_code
        == 200
    )
    with django_capture_on_commit_callbacks(execute=True):
        published = api(approver).post(
            f"/api/v1/plan-versions/{draft_id}/publish/", {"password": "pw", "comment": "go"}
        )
    assert published.status_code == 200 and published.json()["status"] == "published"
    # Everyone in Staff (the coordinator and approver are staff members too), once each.
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        [staff.email, coordinator.email, approver.email]
    )
    assert f"https://ir.example.org/plans/versions/{draft_id}/" in mail.outbox[0].body

    client = api(staff)
    pending = client.get("/api/v1/me/pending-acknowledgements/").json()
    assert [p["id"] for p in pending["results"]] == [draft_id]
    wrong = client.post(
        f"/api/v1/plan-versions/{draft_id}/acknowledge/",
        {"password": "pw", "full_name": "Sam Staff", "content_hash": "0" * 64},
    )
    assert wrong.status_code == 409
    right = {"password": "pw", "full_name": "sam  STAFF", "content_hash": body["content_hash"]}
    first = client.post(f"/api/v1/plan-versions/{draft_id}/acknowledge/", right)
    assert first.status_code == 201, first.content
    again = client.post(f"/api/v1/plan-versions/{draft_id}/acknowledge/", right)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]

    report = api(factories.compliance()).get(f"/api/v1/plan-versions/{draft_id}/compliance/")
    assert report.status_code == 200
    data = report.json()
    assert data["acknowledged"] == 1
    assert data["audience"] == data["acknowledged"] + data["outstanding"]

    second = author.post(f"/api/v1/plans/{plan['id']}/versions/")
    assert second.status_code == 201, second.content
    v2 = second.json()["id"]
    author.patch(f"/api/v1/plan-versions/{v2}/sections/incident-definition/", {"body": "Changed"})
    author.patch(f"/api/v1/plan-versions/{v2}/", {"change_summary": "Clearer definition"})
    diff = author.get(f"/api/v1/plan-versions/{v2}/diff/?against={draft_id}")
    assert diff.status_code == 200
    changed = [s for s in diff.json()["sections"] if s["state"] == "changed"]
    assert [s["key"] for s in changed] == ["incident-definition"]
    author.post(f"/api/v1/plan-versions/{v2}/submit/", {"password": "pw"})
    api(approver).post(f"/api/v1/plan-versions/{v2}/approve/", {"password": "pw"})
    assert (
        api(approver).post(f"/api/v1/plan-versions/{v2}/publish/", {"password": "pw"}).status_code
        == 200
    )
    old = author.get(f"/api/v1/plan-versions/{draft_id}/").json()
    assert old["status"] == "superseded"
    assert author.get(f"/api/v1/plans/{plan['id']}/").json()["current_version"]["id"] == v2

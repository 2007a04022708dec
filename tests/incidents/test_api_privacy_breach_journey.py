"""A P1 personal-data breach from report to closed by an outside client over the API,
written from docs api.md alone: token sign-in, the category list, the report, the manager
and team found by name, the phases with their reasons, the escalation and its
acknowledgement, the GDPR clock met with the submission recorded, a stakeholder update
previewed then sent, the review written and completed, and the audit history of it all.

The organisation's configuration (the Privacy category carrying GDPR Art. 33, the response
targets) is set up as an administrator would, in the admin; everything the client does
goes through HTTP with a token, as an integration would."""

import datetime

import pytest
from django.core import mail
from rest_framework.test import APIClient

from incidents.demo import seed_obligations
from incidents.models import Category, MessageTemplate
from tests import factories
from tests.incidents import factories as f

pytestmark = pytest.mark.django_db

GDPR = "GDPR Art. 33 personal-data breach notification"


def signed_in(username):
    """A client holding a token from `POST /api/v1/auth/token/` (api.md, Conventions)."""
    client = APIClient()
    answer = client.post(
        "/api/v1/auth/token/", {"username": username, "password": "pw"}, format="json"
    )
    assert answer.status_code == 200, answer.content
    client.credentials(HTTP_AUTHORIZATION=f"Token {answer.json()['token']}")
    return client


def results(response):
    """A list endpoint's rows: every list is paginated (`count`, `next`, `previous`, `results`)."""
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    return body["results"]


def when(text):
    return datetime.datetime.fromisoformat(text)


def test_an_outside_client_runs_a_p1_privacy_breach_to_closed_over_the_api(
    django_capture_on_commit_callbacks,
):
    f.targets()
    admin = factories.coordinator(username="admin-setup")
    Category.objects.get_or_create(name="Privacy")
    seed_obligations(admin)
    MessageTemplate.objects.create(
        name="Stakeholder update",
        subject="{reference}: {status}",
        body="Incident {reference} is now {status}.",
    )
    factories.staff(username="sam", first_name="Sam", last_name="Staff")
    factories.coordinator(username="casey", first_name="Casey", last_name="Lind")
    factories.coordinator(username="dana", first_name="Dana", last_name="Scully")
    factories.coordinator(username="bo", first_name="Bo", last_name="Boss")

    # Staff report it: the categories are listed for anyone signed in.
    sam = signed_in("sam")
    privacy = next(c for c in results(sam.get("/api/v1/categories/")) if c["name"] == "Privacy")
    reported = sam.post(
        "/api/v1/incidents/",
        {
            "title": "Customer list e-mailed to the wrong recipients",
            "description": "A spreadsheet of 412 customers went to an outside list.",
            "occurred_at": (
                datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=2)
            ).isoformat(),
            "category": privacy["id"],
            "impact": 1,
            "urgency": 1,
        },
        format="json",
    )
    assert reported.status_code == 201, reported.content
    incident = reported.json()
    assert incident["priority"] == "P1" and incident["reference"].startswith("INC-")
    url = f"/api/v1/incidents/{incident['id']}/"

    # The coordinator finds the people by name and puts the response together.
    casey = signed_in("casey")
    assert casey.get("/api/v1/me/").json()["username"] == "casey"
    (me,) = results(casey.get("/api/v1/users/", {"search": "Casey Lind"}))
    (dana,) = results(casey.get("/api/v1/users/", {"search": "scully"}))
    (bo,) = results(casey.get("/api/v1/users/", {"search": "Bo Boss"}))
    read = casey.get(url)
    assert read.status_code == 200 and read["ETag"]
    with django_capture_on_commit_callbacks(execute=True):
        assigned = casey.patch(
            url, {"incident_manager": me["id"]}, format="json", HTTP_IF_MATCH=read["ETag"]
        )
    assert assigned.status_code == 200, assigned.content
    assert assigned.json()["incident_manager"] == me["id"]
    assert mail.outbox == []  # naming yourself tells no one
    stale = casey.patch(url, {"title": "x"}, format="json", HTTP_IF_MATCH=read["ETag"])
    assert stale.status_code == 412  # the assignment moved the ETag on
    with django_capture_on_commit_callbacks(execute=True):
        joined = casey.post(f"{url}team/", {"user": dana["id"], "role": "scribe"}, format="json")
    assert joined.status_code == 201, joined.content
    assert [m["user"] for m in results(casey.get(f"{url}team/"))] == [dana["id"]]
    assert [m.to for m in mail.outbox] == [[dana["email"]]]  # the new member is told, once

    def move(status, reason):
        answer = casey.post(
            f"{url}transition/", {"status": status, "reason": reason}, format="json"
        )
        assert answer.status_code == 200, (status, answer.content)
        assert answer.json()["status"] == status
        return answer.json()

    move("triaged", "Confirmed: 412 customer addresses in the attachment.")
    refused = casey.post(f"{url}transition/", {"status": "closed", "reason": "x"}, format="json")
    assert refused.status_code == 409  # not from triaged

    # The GDPR clock: 72 hours from becoming aware (by default, the report).
    (gdpr,) = results(casey.get(f"{url}obligations/"))
    assert gdpr["name"] == GDPR and gdpr["state"] == "pending" and gdpr["submission"] is None
    assert when(gdpr["due_at"]) == when(incident["reported_at"]) + datetime.timedelta(hours=72)

    # Escalated to senior management, who acknowledge it themselves.
    escalated = casey.post(
        f"{url}escalations/",
        {"level": "3", "to_user": bo["id"], "reason": "The regulator must hear within 72 hours."},
        format="json",
    )
    assert escalated.status_code == 201, escalated.content
    acknowledged = signed_in("bo").post(
        f"/api/v1/escalations/{escalated.json()['id']}/acknowledge/"
    )
    assert acknowledged.status_code == 200, acknowledged.content
    assert acknowledged.json()["acknowledged_by"] == bo["id"]

    move("investigating", "Mail gateway logs pulled.")
    submitted = casey.post(
        f"{url}obligations/{gdpr['id']}/submit/",
        {
            "recipient": "Datatilsynet",
            "reference": "DT-2026-0417",
            "text": "Initial notification under Art. 33: 412 data subjects.",
        },
        format="json",
    )
    assert submitted.status_code == 201, submitted.content
    assert submitted.json()["state"] == "met"
    assert submitted.json()["submission"]["reference"] == "DT-2026-0417"
    assert submitted.json()["submission"]["submitted_by"] == me["id"]
    (gdpr,) = results(casey.get(f"{url}obligations/"))
    assert gdpr["state"] == "met" and gdpr["submission"]["recipient"] == "Datatilsynet"

    # A stakeholder update from a template: previewed, then sent as previewed.
    mail.outbox.clear()
    update = {"template": MessageTemplate.objects.get().pk, "audience": "board@example.org"}
    preview = casey.post(f"{url}communications/", {**update, "preview": True}, format="json")
    assert preview.status_code == 200, preview.content
    assert preview.json()["subject"] == f"{incident['reference']}: Investigating"
    with django_capture_on_commit_callbacks(execute=True):
        sent = casey.post(
            f"{url}communications/",
            {**update, "preview": False, "digest": preview.json()["digest"]},
            format="json",
        )
    assert sent.status_code == 201, sent.content
    assert [m.to for m in mail.outbox] == [["board@example.org"]]
    assert results(casey.get(f"{url}communications/"))[0]["id"] == sent.json()["id"]

    casey.post(f"{url}timeline/", {"text": "Recall requested from all recipients."}, format="json")
    for status, reason in (
        ("contained", "Recipients asked to delete; recall sent."),
        ("eradicated", "Distribution list fixed."),
        ("recovered", "Deletion confirmed by all recipients."),
    ):
        move(status, reason)
    early = casey.post(f"{url}transition/", {"status": "closed", "reason": "Done"}, format="json")
    assert early.status_code == 409  # a P1 closes only after its completed review

    review = f"{url}review/"
    written = casey.put(
        review,
        {
            "summary": "A customer list went to an external distribution list.",
            "root_cause": "Auto-complete picked the external list.",
            "lessons_learned": "Warn before sending attachments outside.",
            "participants": [me["id"], dana["id"]],
        },
        format="json",
    )
    assert written.status_code == 201, written.content
    completed = casey.post(f"{review}complete/")
    assert completed.status_code == 200 and completed.json()["status"] == "completed"
    closed = move("closed", "Notified, contained and reviewed.")
    assert closed["closed_at"] is not None

    # The audit history names who did each step and why.
    history = results(casey.get(f"{url}history/", {"page_size": 100}))
    reasons = [entry["history_change_reason"] for entry in history]
    assert any("Notified, contained and reviewed." in (r or "") for r in reasons)
    assert any("Mail gateway logs pulled." in (r or "") for r in reasons)
    assert {entry["history_user"] for entry in history} >= {me["id"]}
    timeline = [e["text"] for e in results(casey.get(f"{url}timeline/", {"page_size": 100}))]
    assert "Recall requested from all recipients." in timeline
    # Nothing is deleted over the API.
    assert casey.delete(url).status_code == 405

"""An incident's evidence bundle: the record, its lists, the report PDF, the plan in force,
its whole history, and a verify.py an auditor runs offline."""

import io
import json
import subprocess
import sys
import zipfile

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents import services
from tests import factories
from tests.incidents import factories as f
from tests.plans.factories import published_plan

pytestmark = pytest.mark.django_db


@pytest.fixture
def case(coordinator, approver):
    f.targets()
    _, version, _, _ = published_plan(approver=approver, code="IRP-EV")
    category = f.category("Privacy", plan=version.plan)
    incident = f.incident(factories.staff(username="whistle", first_name="Wanda", last_name="Whistle"),
                          category=category, anonymous=True, title="Customer list mailed out")
    services.incident_update(incident=incident, actor=coordinator, incident_manager=coordinator)
    services.team_member_add(incident=incident, actor=coordinator, user=factories.staff(username="scribe"), role="scribe")
    services.timeline_note_add(incident=incident, actor=coordinator, text="Mail recalled.")
    services.action_create(incident=incident, actor=coordinator, kind="corrective", description="Add DLP rule")
    f.walk(incident, coordinator, "triaged", "investigating", "contained", "eradicated", "recovered")
    f.completed_review(incident, coordinator)
    incident.refresh_from_db()
    return incident


def _zip(client, incident):
    answer = client.get(f"/api/v1/incidents/{incident.pk}/evidence/")
    assert answer.status_code == 200, answer.content[:300]
    return b"".join(answer.streaming_content)


def _verify(tmp_path, data):
    path = tmp_path / "bundle.zip"
    path.write_bytes(data)
    script = tmp_path / "verify.py"
    script.write_bytes(zipfile.ZipFile(path).read("verify.py"))
    done = subprocess.run([sys.executable, "-I", str(script), str(path)], capture_output=True, text=True, timeout=60)
    return done.returncode, done.stdout


def test_the_bundle_holds_the_case_and_verifies_offline(api, compliance_user, case, tmp_path):
    data = _zip(api(compliance_user), case)
    archive = zipfile.ZipFile(io.BytesIO(data))
    names = set(archive.namelist())
    assert {
        "incident.json", "timeline.json", "team.json", "escalations.json", "communications.json",
        "actions.json", "review.json", "post_incident_report.pdf", "history.jsonl",
        "plan-version/plan_version.json", "plan-version/signatures.json", "plan-version/plan_version.pdf",
        "verify.py", "manifest.json",
    } <= names
    record = json.loads(archive.read("incident.json"))
    assert record["reference"] == case.reference and record["status"] == "recovered"
    assert record["plan_version"] == case.plan_version_id
    timeline = json.loads(archive.read("timeline.json"))
    assert any(entry["text"] == "Mail recalled." for entry in timeline)
    assert json.loads(archive.read("review.json"))["status"] == "completed"
    assert [a["description"] for a in json.loads(archive.read("actions.json"))] == ["Add DLP rule"]
    assert archive.read("post_incident_report.pdf").startswith(b"%PDF-")
    history = [json.loads(line) for line in archive.read("history.jsonl").splitlines()]
    assert {"incidents.incident", "incidents.timelineentry", "incidents.action",
            "incidents.postincidentreview"} <= {row["model"] for row in history}
    assert {row["object_id"] for row in history if row["model"] == "incidents.incident"} == {case.pk}
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["subject"] == case.reference
    assert manifest["chain_heads"]["incidents.incident"] == history[[r["model"] for r in history].index("incidents.incident")]["hash"]

    code, report = _verify(tmp_path, data)
    assert code == 0, report
    assert "1 recomputed" in report and "OK: everything checked holds." in report


def test_the_bundle_holds_no_other_incident(api, compliance_user, case):
    other = f.incident(title="Someone else's outage")
    archive = zipfile.ZipFile(io.BytesIO(_zip(api(compliance_user), case)))
    assert b"Someone else's outage" not in b"".join(archive.read(n) for n in archive.namelist() if not n.endswith(".pdf"))
    history = [json.loads(line) for line in archive.read("history.jsonl").splitlines()]
    assert other.pk not in {row["object_id"] for row in history if row["model"] == "incidents.incident"}


def test_an_anonymous_reporter_stays_hidden_from_a_coordinator_and_rows_naming_them_are_withheld(
    api, coordinator, case, tmp_path
):
    data = _zip(api(coordinator), case)
    archive = zipfile.ZipFile(io.BytesIO(data))
    text = b"".join(archive.read(n) for n in archive.namelist() if not n.endswith(".pdf"))
    assert b"whistle" not in text and b"Wanda" not in text
    code, report = _verify(tmp_path, data)
    assert code == 0, report
    assert "rows with content withheld" in report and " 0 rows with content withheld" not in report


def test_who_may_export(api, case, staff_user, superuser):
    outsider = factories.coordinator(username="outsider")
    services.incident_update(incident=case, actor=superuser, confidential=True)
    assert api(outsider).get(f"/api/v1/incidents/{case.pk}/evidence/").status_code == 404
    assert api(staff_user).get(f"/api/v1/incidents/{case.pk}/evidence/").status_code == 403
    assert api(case.reporter).get(f"/api/v1/incidents/{case.pk}/evidence/").status_code == 403


def test_the_export_runs_the_same_queries_whatever_the_length_of_the_case(api, compliance_user, case, coordinator):
    client = api(compliance_user)

    def count():
        with CaptureQueriesContext(connection) as queries:
            _zip(client, case)
        return len(queries)

    count()
    before = count()
    for n in range(25):
        services.timeline_note_add(incident=case, actor=coordinator, text=f"Note {n}")
        services.action_create(incident=case, actor=coordinator, kind="corrective", description=f"Fix {n}")
        services.team_member_add(incident=case, actor=coordinator, user=factories.staff(username=f"resp{n}"), role="responder")
    assert count() == before


def test_the_command_writes_the_same_bundle(case, compliance_user, tmp_path):
    out = tmp_path / "case.zip"
    call_command("evidence_bundle", "incident", case.reference, "--as", compliance_user.username, "--output", str(out))
    code, report = _verify(tmp_path, out.read_bytes())
    assert code == 0, report


def test_the_admin_downloads_the_bundle_and_an_outsider_gets_nothing(client, coordinator, superuser, case):
    url = f"/admin/incidents/incident/{case.pk}/evidence/"
    client.force_login(coordinator)
    answer = client.get(url)
    assert answer.status_code == 200 and answer["Content-Type"] == "application/zip"
    assert "manifest.json" in zipfile.ZipFile(io.BytesIO(b"".join(answer.streaming_content))).namelist()
    # The list action, for one incident; two at once are refused with a message.
    answer = client.post("/admin/incidents/incident/", {"action": "download_evidence", "_selected_action": [case.pk]})
    assert answer.status_code == 200 and answer["Content-Type"] == "application/zip"
    other = f.incident(title="Another")
    answer = client.post("/admin/incidents/incident/", {"action": "download_evidence", "_selected_action": [case.pk, other.pk]}, follow=True)
    assert "Choose exactly one record" in answer.content.decode()

    services.incident_update(incident=case, actor=superuser, confidential=True)
    client.force_login(factories.coordinator(username="outsider"))
    assert client.get(url).status_code == 404


def test_attachments_travel_with_their_upload_hash_and_custody_and_the_copy_is_recorded(
    api, coordinator, case, tmp_path
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from incidents.models import AttachmentDownload

    content = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
    first = services.attachment_add(
        incident=case, actor=coordinator, upload=SimpleUploadedFile("mail log.pdf", content, "application/pdf")
    )
    services.attachment_supersede(attachment=first, actor=coordinator, reason="Wrong day's log")
    data = _zip(api(coordinator), case)
    archive = zipfile.ZipFile(io.BytesIO(data))
    listed = json.loads(archive.read("attachments.json"))
    assert [item["file_name"] for item in listed] == ["mail log.pdf"]
    item = listed[0]
    assert item["superseded_reason"] == "Wrong day's log"
    assert archive.read(item["bundle_path"]) == content
    custody = AttachmentDownload.objects.get(attachment=first)
    assert custody.via == "bundle" and custody.user == coordinator

    code, report = _verify(tmp_path, data)
    assert code == 0, report
    assert "1 files compared with the SHA-256 taken at upload" in report

    # A file swapped inside the bundle, its manifest entry recomputed to match, is still caught.
    import hashlib

    forged = tmp_path / "forged.zip"
    with zipfile.ZipFile(forged, "w") as out:
        manifest = json.loads(archive.read("manifest.json"))
        for name in archive.namelist():
            body = archive.read(name)
            if name == item["bundle_path"]:
                body = content.replace(b"1.7", b"1.4")
                manifest["files"][name] = {"sha256": hashlib.sha256(body).hexdigest(), "size": len(body)}
            if name != "manifest.json":
                out.writestr(name, body)
        out.writestr("manifest.json", json.dumps(manifest))
    code, report = _verify(tmp_path, forged.read_bytes())
    assert code == 1 and "not the file attached" in report

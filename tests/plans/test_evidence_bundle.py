"""A plan version's evidence bundle: a zip an auditor checks offline with its own verify.py."""

import io
import json
import subprocess
import sys
import zipfile

import pytest
from django.db import connection

from plans import services
from tests import factories
from tests.plans.factories import published_plan
from tests.signing import signer_proof

pytestmark = pytest.mark.django_db


def _download(client, version):
    answer = client.get(f"/api/v1/plan-versions/{version.pk}/evidence/")
    assert answer.status_code == 200, answer.content[:300]
    assert answer["Content-Type"] == "application/zip"
    assert "attachment;" in answer["Content-Disposition"]
    return b"".join(answer.streaming_content)


def _run_verify(tmp_path, data, *, unzip=True):
    bundle = tmp_path / "bundle.zip"
    bundle.write_bytes(data)
    if unzip:
        folder = tmp_path / "unzipped"
        zipfile.ZipFile(bundle).extractall(folder)
        command = [sys.executable, str(folder / "verify.py")]
    else:
        command = [sys.executable, "-I", "-c", zipfile.ZipFile(bundle).read("verify.py").decode(), str(bundle)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    return done.returncode, done.stdout


@pytest.fixture
def version(approver):
    _, version, _, _ = published_plan(approver=approver, code="EVB")
    signer = factories.staff(username="sam", first_name="Samantha", last_name="Okafor")
    services.acknowledgement_create(
        version=version, actor=signer, full_name="Samantha Okafor", content_hash=version.content_hash,
        proof=signer_proof(signer),
    )
    return version


def test_the_bundle_holds_text_fingerprint_signatures_history_pdf_and_verifies(
    api, compliance_user, version, tmp_path
):
    data = _download(api(compliance_user), version)
    archive = zipfile.ZipFile(io.BytesIO(data))
    names = set(archive.namelist())
    assert {
        "plan-version/plan_version.json",
        "plan-version/signatures.json",
        "plan-version/acknowledgements.json",
        "plan-version/reviews.json",
        "plan-version/plan_version.pdf",
        "history.jsonl",
        "verify.py",
        "manifest.json",
    } <= names
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["kind"] == "plan_version" and manifest["subject"] == "EVB v1"
    assert manifest["content_hash"] == version.content_hash
    assert set(manifest["files"]) == names - {"manifest.json"}
    record = json.loads(archive.read("plan-version/plan_version.json"))
    assert record["content_hash"] == version.content_hash
    assert len(record["sections"]) == version.sections.count()
    signatures = json.loads(archive.read("plan-version/signatures.json"))
    assert any(s["printed_name"] == "Samantha Okafor" and s["meaning"] == "acknowledged" for s in signatures)
    assert archive.read("plan-version/plan_version.pdf").startswith(b"%PDF-")
    history = [json.loads(line) for line in archive.read("history.jsonl").splitlines()]
    models = {row["model"] for row in history}
    assert {"plans.plan", "plans.planversion", "plans.section", "plans.acknowledgement", "plans.review"} <= models
    assert all(row["content"] for row in history)  # compliance reads every row unmasked

    code, report = _run_verify(tmp_path, data)
    assert code == 0, report
    assert "OK: everything checked holds." in report
    assert f"{len(history)} hashes recomputed" in report
    assert "1 recomputed" in report  # the fingerprint

    code, report = _run_verify(tmp_path, data, unzip=False)
    assert code == 0, report


def test_verify_names_a_changed_file_a_changed_fingerprint_input_and_an_altered_history_row(
    api, compliance_user, version, tmp_path
):
    data = _download(api(compliance_user), version)
    archive = zipfile.ZipFile(io.BytesIO(data))
    folder = tmp_path / "unzipped"
    archive.extractall(folder)

    record_path = folder / "plan-version" / "plan_version.json"
    record = json.loads(record_path.read_text())
    record["sections"][0]["body"] += " (edited after export)"
    record_path.write_text(json.dumps(record))
    history_path = folder / "history.jsonl"
    lines = history_path.read_text().splitlines()
    row = json.loads(lines[-1])
    row["content"] = row["content"].replace('"history_type":"+"', '"history_type":"~"')
    lines[-1] = json.dumps(row)
    history_path.write_text("\n".join(lines) + "\n")

    done = subprocess.run(
        [sys.executable, str(folder / "verify.py")], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert "plan-version/plan_version.json: SHA-256 or size differs from the manifest" in done.stdout
    assert "the sections do not hash to its content_hash" in done.stdout
    assert f"history_id={row['history_id']}: its content does not hash to its hash" in done.stdout


def test_the_bundle_needs_the_history_permission_and_a_visible_version(api, staff_user, version):
    assert api(staff_user).get(f"/api/v1/plan-versions/{version.pk}/evidence/").status_code == 403
    assert api().get(f"/api/v1/plan-versions/{version.pk}/evidence/").status_code in (401, 403)


def test_accept_zip_reaches_the_bundle(api, compliance_user, version):
    answer = api(compliance_user).get(
        f"/api/v1/plan-versions/{version.pk}/evidence/", HTTP_ACCEPT="application/zip"
    )
    assert answer.status_code == 200
    assert answer["Content-Type"] == "application/zip"


def test_the_bundle_runs_the_same_queries_whatever_the_number_of_signatures(
    api, compliance_user, version
):
    from django.test.utils import CaptureQueriesContext

    client = api(compliance_user)

    def count():
        with CaptureQueriesContext(connection) as queries:
            _download(client, version)
        return len(queries)

    count()  # the reader's permissions are cached from here on
    before = count()
    for n in range(30):
        services.acknowledgement_create(
            version=version,
            actor=(reader := factories.staff(username=f"reader{n}", first_name="Reader", last_name=str(n))),
            full_name=f"Reader {n}",
            content_hash=version.content_hash,
            proof=signer_proof(reader),
        )
    assert count() == before


def test_the_admin_downloads_the_version_bundle_for_compliance_only(client, compliance_user, approver, version):
    url = f"/admin/plans/planversion/{version.pk}/evidence/"
    client.force_login(compliance_user)
    answer = client.get(url)
    assert answer.status_code == 200 and answer["Content-Type"] == "application/zip"
    client.force_login(approver)  # approvers do not read history
    assert client.get(url).status_code == 403


def test_the_command_writes_the_bundle_by_code_and_number(version, compliance_user, tmp_path):
    from django.core.management import call_command

    out = tmp_path / "v.zip"
    call_command("evidence_bundle", "plan-version", "EVB v1", "--as", compliance_user.username, "--output", str(out))
    code, report = _run_verify(tmp_path, out.read_bytes())
    assert code == 0, report

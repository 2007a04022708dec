"""`GET /api/v1/audit/`: every history entry of every tracked model, newest first, Compliance
only, filtered, keyset-paginated in a fixed number of queries, and streamed as CSV."""

import csv
import io
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.chain import chain_hash
from incidents import services as incident_services
from incidents.models import Incident
from tests import factories
from tests.incidents import factories as f

pytestmark = pytest.mark.django_db
URL = "/api/v1/audit/"


def edited(actor, n, title="Case"):
    incident = f.incident(title=f"{title} {n}", reporter=actor)
    incident_services.incident_update(
        incident=Incident.objects.get(pk=incident.pk),
        actor=actor,
        title=f"{title} {n} edited",
        reason="Clarified",
    )
    return incident


def read_csv(response):
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_only_compliance_reads_the_audit_log(api, compliance_user, coordinator, staff_user):
    assert api().get(URL).status_code in (401, 403)
    assert api(coordinator).get(URL).status_code == 403
    assert api(staff_user).get(URL).status_code == 403
    assert api(coordinator).get(URL + "?format=csv").status_code == 403
    assert api(compliance_user).get(URL).status_code == 200


def test_entries_newest_first_with_changes_user_and_chain(api, compliance_user, coordinator):
    incident = edited(coordinator, 1)
    body = api(compliance_user).get(URL, {"model": "incidents.incident"}).json()
    first, second = body["results"][:2]
    assert first["model"] == "incidents.incident" and first["object_id"] == incident.pk
    assert first["object"] == str(Incident.objects.get(pk=incident.pk))
    assert first["history_type"] == "changed" and second["history_type"] == "created"
    assert first["history_user"] == {"id": coordinator.pk, "name": coordinator.get_full_name()}
    assert first["history_change_reason"] == "Clarified"
    assert first["changes"]["title"] == {"old": "Case 1", "new": "Case 1 edited"}
    assert "chain_hash" not in first["changes"] and "chain_previous" not in first["changes"]
    assert first["previous_hash"] == second["hash"]
    assert first["hash"] == chain_hash(first["previous_hash"], first["content"])
    assert json.loads(first["content"])["fields"]["title"] == "Case 1 edited"


def test_filters_narrow_and_bad_values_are_400(api, compliance_user, coordinator):
    other = factories.coordinator(username="coord2")
    one, two = edited(coordinator, 1), edited(other, 2)
    client = api(compliance_user)
    rows = client.get(URL, {"model": "incidents.incident", "object_id": one.pk}).json()["results"]
    assert {r["object_id"] for r in rows} == {one.pk} and len(rows) == 2
    rows = client.get(URL, {"user": other.pk, "model": "incidents.incident"}).json()
    assert {r["object_id"] for r in rows["results"]} == {two.pk}
    later = Incident.history.filter(id=two.pk).earliest("history_date").history_date
    rows = client.get(URL, {"since": later.isoformat(), "model": "incidents.incident"}).json()
    assert {r["object_id"] for r in rows["results"]} == {two.pk}
    rows = client.get(URL, {"until": later.isoformat(), "model": "incidents.incident"}).json()
    assert one.pk in {r["object_id"] for r in rows["results"]}
    for bad in (
        {"model": "nope.nothing"},
        {"object_id": "x"},
        {"user": "²"},
        {"since": "yesterday"},
        {"until": "2026-13-01"},
        {"cursor": "garbage"},
        # A cursor whose index is 1e400 (infinity once parsed): 400, not an OverflowError.
        {"cursor": "WyIyMDI2LTAxLTAxIiwxZTQwMCwxXQ=="},
        {"page_size": 1000},
    ):
        assert client.get(URL, bad).status_code == 400, bad


def test_keyset_pages_cover_every_entry_once(api, compliance_user, coordinator):
    for n in range(4):
        edited(coordinator, n)
    client = api(compliance_user)
    seen, url = [], URL + "?page_size=3"
    while url:
        body = client.get(url).json()
        assert body["count"] is None
        seen += [(r["model"], r["history_id"]) for r in body["results"]]
        url = body["next"]
    assert len(seen) == len(set(seen))
    everything = client.get(URL, {"page_size": 100}).json()["results"]
    assert seen == [(r["model"], r["history_id"]) for r in everything]
    dates = [r["history_date"] for r in everything]
    assert dates == sorted(dates, reverse=True)


def _queries_for_a_page(client):
    # The cost is fixed per history table on the page (core.audit): compare the same tables.
    client.get(URL)  # the reader's permissions are cached after the first request
    with CaptureQueriesContext(connection) as captured:
        response = client.get(URL, {"page_size": 100, "model": "incidents.incident"})
    assert response.status_code == 200
    return len(captured)


def test_a_page_costs_the_same_queries_at_two_sizes(api, compliance_user, coordinator):
    client = api(compliance_user)
    for n in range(2):
        edited(coordinator, n)
    small = _queries_for_a_page(client)
    for n in range(2, 12):
        edited(coordinator, n)
    assert _queries_for_a_page(client) == small


def test_csv_streams_the_same_columns(api, compliance_user, coordinator):
    edited(coordinator, 1)
    client = api(compliance_user)
    response = client.get(URL + "?format=csv&model=incidents.incident")
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"].startswith("text/csv")
    rows = read_csv(response)
    body = client.get(URL, {"model": "incidents.incident"}).json()["results"]
    assert [int(r["history_id"]) for r in rows] == [r["history_id"] for r in body]
    assert rows[0]["hash"] == chain_hash(rows[0]["previous_hash"], rows[0]["content"])
    assert json.loads(rows[0]["changes"])["title"]["new"] == "Case 1 edited"
    by_accept = client.get(URL, {"model": "incidents.incident"}, HTTP_ACCEPT="text/csv")
    assert by_accept.streaming and len(read_csv(by_accept)) == len(rows)


def test_anonymous_reporters_stay_hidden_in_the_audit_log(api, coordinator):
    # A reader with the audit permission but not the reporter's identity (a custom role).
    reader = factories.coordinator(username="auditor2")
    from django.contrib.auth.models import Permission

    reader.user_permissions.add(Permission.objects.get(codename="export_history"))
    reporter = factories.staff(username="whistle")
    incident = f.incident(title="Anonymous", reporter=reporter, anonymous=True)
    rows = api(reader).get(URL, {"model": "incidents.incident", "object_id": incident.pk}).json()
    assert rows["results"] and all("reporter" not in r["changes"] for r in rows["results"])
    # The row's content (what its hash covers) holds reporter_id: withheld from this reader,
    # the hashes still shown.
    assert all(r["content"] == "" and r["hash"] for r in rows["results"])
    assert all(str(reporter.pk) not in json.dumps(r["content"]) for r in rows["results"])


def test_a_records_history_csv_keeps_an_anonymous_reporter_hidden(api, coordinator):
    reporter = factories.staff(username="whistle2")
    incident = f.incident(title="Anonymous", reporter=reporter, anonymous=True)
    incident_services.incident_update(
        incident=Incident.objects.get(pk=incident.pk), actor=coordinator, title="Anon edited"
    )
    response = api(coordinator).get(f"/api/v1/incidents/{incident.pk}/history/?format=csv")
    assert response.status_code == 200
    rows = read_csv(response)
    assert len(rows) == 2
    assert all(r["content"] == "" for r in rows)
    assert all("reporter" not in r["changes"] for r in rows)


def test_confidential_incidents_stay_hidden_from_readers_outside_their_team(api, coordinator):
    reader = factories.coordinator(username="auditor3")
    from django.contrib.auth.models import Permission

    reader.user_permissions.add(Permission.objects.get(codename="export_history"))
    secret = f.incident(title="Secret", confidential=True)
    open_case = f.incident(title="Open")
    rows = api(reader).get(URL, {"model": "incidents.incident"}).json()["results"]
    assert open_case.pk in {r["object_id"] for r in rows}
    assert secret.pk not in {r["object_id"] for r in rows}


def test_a_records_own_history_exports_as_csv(api, coordinator):
    incident = edited(coordinator, 1)
    response = api(coordinator).get(f"/api/v1/incidents/{incident.pk}/history/?format=csv")
    assert response.status_code == 200 and response.streaming
    rows = read_csv(response)
    assert [r["history_type"] for r in rows] == ["changed", "created"]
    assert rows[0]["previous_hash"] == rows[1]["hash"]


def test_the_admin_audit_log_shows_and_exports_the_same(client, compliance_user, coordinator):
    incident = edited(coordinator, 1)
    compliance_user.is_staff = True
    compliance_user.save()
    client.force_login(compliance_user)
    index = client.get("/admin/")
    assert b'href="/admin/audit-log/"' in index.content
    page = client.get("/admin/audit-log/", {"model": "incidents.incident"})
    assert page.status_code == 200
    assert b"Case 1 edited" in page.content
    exported = client.get("/admin/audit-log/", {"model": "incidents.incident", "format": "csv"})
    rows = read_csv(exported)
    assert {int(r["object_id"]) for r in rows} == {incident.pk}
    assert client.get("/admin/audit-log/", {"since": "nonsense"}).status_code == 200


def test_coordinators_get_no_admin_audit_log(client, coordinator):
    coordinator.is_staff = True
    coordinator.save()
    client.force_login(coordinator)
    assert b"audit-log" not in client.get("/admin/").content
    assert client.get("/admin/audit-log/").status_code == 403


def test_an_outside_script_recomputes_every_chain_from_the_export(
    api, compliance_user, coordinator
):
    # The recipe of docs/evidence.md, applied to the unfiltered CSV export with nothing else.
    import hashlib
    from itertools import groupby

    for n in range(3):
        edited(coordinator, n)
    rows = read_csv(api(compliance_user).get(URL + "?format=csv"))
    assert len({json.loads(r["content"])["model"] for r in rows}) > 3
    rows.sort(key=lambda r: (json.loads(r["content"])["model"], int(r["history_id"])))
    for _model, chain in groupby(rows, key=lambda r: json.loads(r["content"])["model"]):
        previous = ""
        for row in chain:
            assert row["previous_hash"] == previous
            digest = hashlib.sha256((row["previous_hash"] + row["content"]).encode()).hexdigest()
            assert digest == row["hash"]
            previous = row["hash"]

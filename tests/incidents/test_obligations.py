"""Notification obligations: their clocks (GDPR, NIS2, DORA), states, submissions, not
applicable with a reason, the list filter, the dashboard count and the escalation timer."""

import datetime

import pytest
from django.utils import timezone

from core.errors import Conflict, InvalidInput, NotPermitted
from incidents import queries, services
from incidents.demo import seed_obligations
from incidents.history_visibility import history_rules
from incidents.models import Category, Escalation, Incident, Obligation, ObligationSubmission
from tests import factories
from tests.incidents import factories as f

H = datetime.timedelta(hours=1)


def seeded():
    for name in ("Privacy", "Security", "Availability"):
        Category.objects.get_or_create(name=name)
    seed_obligations(factories.coordinator(username="seeder"))
    return {o.name.split(" ")[0] + ":" + o.deliverable: o for o in Obligation.objects.all()}


def states(incident, now=None):
    incident.refresh_from_db()
    return {o.name: (o.state, o.due_at) for o in queries.incident_obligations(incident, now=now)}


def report(category, *, occurred_hours_ago=2, **kwargs):
    return f.incident(category=Category.objects.get(name=category), occurred_hours_ago=occurred_hours_ago, **kwargs)


GDPR = "GDPR Art. 33 personal-data breach notification"
EARLY = "NIS2 Art. 23 early warning"
NOTIFY = "NIS2 Art. 23 incident notification"
FINAL = "NIS2 Art. 23 final report"
DORA = "DORA major ICT-related incident initial notification"


@pytest.mark.django_db
def test_gdpr_is_due_72_hours_after_the_organisation_became_aware(coordinator):
    seeded()
    incident = report("Privacy", occurred_hours_ago=20)
    state, due = states(incident)[GDPR]
    assert state == "pending" and due == incident.reported_at + 72 * H
    aware = incident.reported_at - 10 * H
    services.incident_set_aware(incident=incident, actor=coordinator, aware_at=aware, reason="Alert seen in the SIEM")
    assert states(incident)[GDPR][1] == aware + 72 * H
    incident.refresh_from_db()
    assert incident.history.first().history_change_reason == "Became aware: Alert seen in the SIEM"


@pytest.mark.django_db
def test_aware_time_needs_a_reason_and_cannot_be_future_or_before_it_occurred(coordinator):
    seeded()
    incident = report("Privacy")
    with pytest.raises(InvalidInput, match="Say why"):
        services.incident_set_aware(incident=incident, actor=coordinator, aware_at=incident.reported_at, reason=" ")
    with pytest.raises(InvalidInput, match="future"):
        services.incident_set_aware(incident=incident, actor=coordinator, aware_at=timezone.now() + 2 * H, reason="x")
    with pytest.raises(InvalidInput, match="before the incident occurred"):
        services.incident_set_aware(incident=incident, actor=coordinator, aware_at=incident.occurred_at - H, reason="x")
    with pytest.raises(NotPermitted):
        services.incident_set_aware(incident=incident, actor=factories.staff(), aware_at=incident.reported_at, reason="x")


@pytest.mark.django_db
def test_nis2_chain_early_warning_notification_and_final_a_month_after_the_notification(coordinator):
    seeded()
    incident = report("Security")
    found = states(incident)
    assert found[EARLY] == ("pending", incident.reported_at + 24 * H)
    assert found[NOTIFY] == ("pending", incident.reported_at + 72 * H)
    assert found[FINAL] == ("pending", None)  # waits for the notification
    obligations = {o.name: o for o in Obligation.objects.all()}
    with pytest.raises(Conflict, match="first"):
        services.obligation_submit(incident=incident, obligation=obligations[FINAL], actor=coordinator, recipient="CSIRT", text="x")
    sent = datetime.datetime(2026, 1, 31, 12, 0, tzinfo=datetime.UTC)
    incident.occurred_at = sent - 5 * H  # a January incident: the month ends in February
    incident.save()
    incident.reported_at = sent - 4 * H
    incident.save()
    services.obligation_submit(
        incident=incident, obligation=obligations[NOTIFY], actor=coordinator,
        recipient="CSIRT", reference="IN-1", text="Notification", submitted_at=sent,
    )
    found = states(incident, now=sent + H)
    assert found[NOTIFY][0] == "met"
    assert found[FINAL] == ("pending", datetime.datetime(2026, 2, 28, 12, 0, tzinfo=datetime.UTC))
    assert states(incident, now=datetime.datetime(2026, 3, 1, tzinfo=datetime.UTC))[FINAL][0] == "breached"


@pytest.mark.django_db
def test_dora_is_due_4_hours_after_classification_at_most_24_hours_after_awareness(coordinator):
    seeded()
    incident = report("Availability")
    assert states(incident)[DORA] == ("pending", incident.reported_at + 24 * H)  # until classified: the cap
    incident = services.incident_classify_major(incident=incident, actor=coordinator, reason="Payments down")
    classified = incident.classified_major_at
    assert states(incident)[DORA][1] == classified + 4 * H
    with pytest.raises(Conflict):
        services.incident_classify_major(incident=incident, actor=coordinator, reason="again")
    # Classified late (22 h after awareness): the 24 h cap comes first.
    later = report("Availability", occurred_hours_ago=30)
    services.incident_set_aware(incident=later, actor=coordinator, aware_at=later.reported_at - 22 * H, reason="Monitoring alert")
    later = services.incident_classify_major(incident=later, actor=coordinator, reason="Major")
    later.refresh_from_db()
    assert states(later)[DORA][1] == later.aware_at + 24 * H


@pytest.mark.django_db
def test_each_state(coordinator):
    seeded()
    incident = report("Privacy")
    reported = incident.reported_at
    assert states(incident, now=reported + H)[GDPR][0] == "pending"
    assert states(incident, now=reported + 60 * H)[GDPR][0] == "at_risk"  # past 75 % of 72 h
    assert states(incident, now=reported + 73 * H)[GDPR][0] == "breached"
    gdpr = Obligation.objects.get(name=GDPR)
    services.obligation_submit(incident=incident, obligation=gdpr, actor=coordinator, recipient="DPA", text="Report")
    assert states(incident)[GDPR][0] == "met"
    late = report("Privacy", occurred_hours_ago=100)
    services.incident_set_aware(incident=late, actor=coordinator, aware_at=late.reported_at - 80 * H, reason="Found in audit")
    services.obligation_submit(incident=late, obligation=gdpr, actor=coordinator, recipient="DPA", text="Late report")
    assert states(late)[GDPR][0] == "missed"
    cancelled = report("Privacy")
    services.incident_transition(incident=cancelled, actor=coordinator, status="cancelled", reason="Duplicate")
    assert states(cancelled)[GDPR][0] == "not_applicable"


@pytest.mark.django_db
def test_not_applicable_needs_a_reason_and_is_recorded(coordinator):
    seeded()
    incident = report("Privacy")
    gdpr = Obligation.objects.get(name=GDPR)
    with pytest.raises(InvalidInput, match="Say why"):
        services.obligation_not_applicable(incident=incident, obligation=gdpr, actor=coordinator, reason="")
    waiver = services.obligation_not_applicable(incident=incident, obligation=gdpr, actor=coordinator, reason="No personal data")
    assert states(incident, now=incident.reported_at + 100 * H)[GDPR][0] == "not_applicable"
    assert waiver.history.first().history_user == coordinator
    assert waiver.history.first().history_change_reason == "Not applicable: No personal data"
    with pytest.raises(Conflict):
        services.obligation_submit(incident=incident, obligation=gdpr, actor=coordinator, recipient="DPA", text="x")


@pytest.mark.django_db
def test_a_submission_is_audited_and_on_the_timeline(coordinator):
    seeded()
    incident = report("Privacy")
    gdpr = Obligation.objects.get(name=GDPR)
    with pytest.raises(InvalidInput, match="to whom"):
        services.obligation_submit(incident=incident, obligation=gdpr, actor=coordinator, recipient=" ", text="x")
    submission = services.obligation_submit(
        incident=incident, obligation=gdpr, actor=coordinator, recipient="DPA", reference="DPA-7", text="What happened"
    )
    record = submission.history.first()
    assert record.history_user == coordinator and record.history_change_reason == f"Submitted: {GDPR}"
    assert submission.submitted_by == coordinator
    assert incident.timeline.filter(text__contains="DPA-7").exists()
    with pytest.raises(Conflict):
        services.obligation_submit(incident=incident, obligation=gdpr, actor=coordinator, recipient="DPA", text="x")
    other = Obligation.objects.get(name=EARLY)
    with pytest.raises(InvalidInput, match="not one of"):
        services.obligation_submit(incident=incident, obligation=other, actor=coordinator, recipient="x", text="x")


@pytest.mark.django_db
def test_the_list_filter_and_worst_state_run_in_one_query_at_two_sizes(coordinator, django_assert_num_queries):
    seeded()
    for size in (2, 6):
        while queries.fully_visible_incidents(coordinator).count() < size:
            report("Privacy", occurred_hours_ago=200)
        later = timezone.now() + 100 * H
        qs = queries.with_worst_obligation(
            queries.fully_visible_incidents(coordinator).filter(queries.obligation_state_filter("breached", later)), later
        )
        with django_assert_num_queries(1):
            rows = list(qs)
        assert len(rows) == size and {r.obligation_state for r in rows} == {"breached"}
    counts = queries.obligation_counts(coordinator, now=timezone.now() + 100 * H)
    assert counts == {"breached": 6, "at_risk": 0}


@pytest.mark.django_db
def test_the_list_column_compiled_once_follows_the_time_the_setting_and_a_nested_query(coordinator, settings):
    """The worst state and the filter are compiled to SQL once per process (core.expressions.
    Precompiled): each reading still takes its own time, the at-risk setting, and reads the
    same when the list is nested in another query."""
    seeded()
    incident = report("Privacy")
    reported = incident.reported_at

    def listed(now):
        return queries.with_worst_obligation(Incident.objects.filter(pk=incident.pk), now).get().obligation_state

    assert [listed(reported + hours * H) for hours in (1, 60, 73)] == ["pending", "at_risk", "breached"]
    settings.INCIDENT_TARGET_AT_RISK_RATIO = 0.9  # at risk from 64.8 h
    assert listed(reported + 60 * H) == "pending"
    settings.INCIDENT_TARGET_AT_RISK_RATIO = 0.75
    later = reported + 73 * H
    breached = queries.with_worst_obligation(Incident.objects.all(), later).filter(obligation_state="breached")
    assert list(Incident.objects.filter(pk__in=breached.values("pk"))) == [incident]
    nested = Incident.objects.filter(queries.obligation_state_filter("breached", later)).values("pk")
    assert list(Incident.objects.filter(pk__in=nested)) == [incident]
    assert not Incident.objects.filter(pk__in=Incident.objects.filter(queries.obligation_state_filter("breached", reported)).values("pk")).exists()


@pytest.mark.django_db
def test_the_timer_escalates_a_breached_obligation_once(coordinator):
    seeded()
    incident = report("Privacy")
    services.incident_update(incident=incident, actor=coordinator, incident_manager=coordinator)
    system = factories.UserFactory(username="system")
    assert services.escalate_breached_obligations(actor=system) == []
    later = timezone.now() + 73 * H
    first = services.escalate_breached_obligations(actor=system, now=later)
    assert [(e.incident_id, e.to_user_id) for e in first] == [(incident.pk, coordinator.pk)]
    assert first[0].obligation.name == GDPR and first[0].automatic
    assert services.escalate_breached_obligations(actor=system, now=later) == []
    assert Escalation.objects.count() == 1
    assert ObligationSubmission.objects.count() == 0


# -- API and admin ---------------------------------------------------------------------


@pytest.mark.django_db
def test_api_lists_and_submits_obligations_with_400s_for_bad_input(coordinator, api):
    seeded()
    incident = report("Privacy")
    gdpr = Obligation.objects.get(name=GDPR)
    client = api(coordinator)
    url = f"/api/v1/incidents/{incident.pk}/obligations/"
    body = client.get(url).json()
    assert body["count"] == 1 and body["next"] is None  # paginated, as every list (api.md)
    rows = body["results"]
    assert [(o["name"], o["state"], o["submission"]) for o in rows] == [(GDPR, "pending", None)]
    assert rows[0]["due_at"] is not None
    submit = f"{url}{gdpr.pk}/submit/"
    assert client.post(submit, {"text": "x"}, format="json").status_code == 400  # no recipient
    assert client.post(submit, {"recipient": "DPA"}, format="json").status_code == 400  # nothing sent
    assert client.post(submit, {"recipient": "D\x00PA", "text": "x"}, format="json").status_code == 400
    assert client.post(submit, {"recipient": "DPA" * 100, "text": "x"}, format="json").status_code == 400
    future = (timezone.now() + 5 * H).isoformat()
    assert client.post(submit, {"recipient": "DPA", "text": "x", "submitted_at": future}, format="json").status_code == 400
    assert client.post(f"{url}999999/submit/", {"recipient": "DPA", "text": "x"}, format="json").status_code == 404
    other = Obligation.objects.get(name=EARLY)
    assert client.post(f"{url}{other.pk}/submit/", {"recipient": "x", "text": "x"}, format="json").status_code == 400
    response = client.post(submit, {"recipient": "DPA", "reference": "DPA-1", "text": "Report"}, format="json")
    assert response.status_code == 201, response.content
    # It answers with the obligation as it now stands.
    assert response.json()["name"] == GDPR and response.json()["state"] == "met"
    assert response.json()["submission"]["reference"] == "DPA-1"
    assert client.get(url).json()["results"][0]["state"] == "met"
    assert client.post(submit, {"recipient": "DPA", "text": "again"}, format="json").status_code == 409
    assert api(factories.staff()).post(submit, {"recipient": "DPA", "text": "x"}, format="json").status_code in (403, 404)


@pytest.mark.django_db
def test_api_sets_aware_classifies_major_and_marks_not_applicable(coordinator, api):
    seeded()
    incident = report("Security", occurred_hours_ago=30)
    client = api(coordinator)
    url = f"/api/v1/incidents/{incident.pk}/"
    early = Obligation.objects.get(name=EARLY)

    # When the organisation became aware: a reason, a time neither future nor before it occurred.
    aware = incident.occurred_at + H
    assert client.post(f"{url}aware/", {"aware_at": aware.isoformat()}, format="json").status_code == 400
    future = (timezone.now() + 5 * H).isoformat()
    assert client.post(f"{url}aware/", {"aware_at": future, "reason": "x"}, format="json").status_code == 400
    before = (incident.occurred_at - H).isoformat()
    assert client.post(f"{url}aware/", {"aware_at": before, "reason": "x"}, format="json").status_code == 400
    response = client.post(f"{url}aware/", {"aware_at": aware.isoformat(), "reason": "SOC alert"}, format="json")
    assert response.status_code == 200, response.content
    due = {o["name"]: o["due_at"] for o in response.json()["results"]}
    assert datetime.datetime.fromisoformat(due[EARLY]) == aware + 24 * H
    detail = client.get(url).json()
    assert datetime.datetime.fromisoformat(detail["aware_at"]) == aware
    assert detail["classified_major_at"] is None
    incident.refresh_from_db()
    assert incident.history.first().history_change_reason == "Became aware: SOC alert"

    # Not applicable: with a reason, once, and never after a submission.
    na = f"{url}obligations/{early.pk}/not-applicable/"
    assert client.post(na, {}, format="json").status_code == 400
    response = client.post(na, {"reason": "Not a significant incident under NIS2"}, format="json")
    assert response.status_code == 201, response.content
    row = response.json()
    assert row["name"] == EARLY
    assert row["state"] == "not_applicable"
    assert row["not_applicable_reason"] == "Not a significant incident under NIS2"
    assert client.post(na, {"reason": "again"}, format="json").status_code == 409
    assert client.post(f"{url}obligations/{early.pk}/submit/", {"recipient": "CSIRT", "text": "x"}, format="json").status_code == 409
    assert client.post(f"{url}obligations/abc/not-applicable/", {"reason": "x"}, format="json").status_code == 404

    # Classified as major: once, with a reason.
    assert client.post(f"{url}classify-major/", {}, format="json").status_code == 400
    response = client.post(f"{url}classify-major/", {"reason": "Critical service down for 2 hours"}, format="json")
    assert response.status_code == 200, response.content
    assert client.get(url).json()["classified_major_at"] is not None
    assert client.post(f"{url}classify-major/", {"reason": "again"}, format="json").status_code == 409

    # Staff outside the team see no such incident; every step is a 403 or 404 for them.
    member = factories.staff(username="member")
    for path, body in ((f"{url}aware/", {"aware_at": aware.isoformat(), "reason": "x"}), (f"{url}classify-major/", {"reason": "x"})):
        assert api(member).post(path, body, format="json").status_code in (403, 404)


@pytest.mark.django_db
def test_a_confidential_incidents_obligations_follow_its_visibility(coordinator, api, client, compliance_user, superuser):
    seeded()
    incident = report("Privacy", confidential=True)
    outsider = factories.coordinator(username="outsider")
    gdpr = Obligation.objects.get(name=GDPR)
    url = f"/api/v1/incidents/{incident.pk}/obligations/"
    assert api(outsider).get(url).status_code == 404
    assert api(outsider).post(f"{url}{gdpr.pk}/submit/", {"recipient": "x", "text": "x"}, format="json").status_code == 404
    with pytest.raises(NotPermitted):
        services.obligation_submit(incident=incident, obligation=gdpr, actor=outsider, recipient="x", text="x")
    assert api(compliance_user).get(url).status_code == 200
    client.force_login(outsider)
    assert client.get(f"/admin/incidents/incident/{incident.pk}/obligations/{gdpr.pk}/submit/").status_code == 404
    assert client.get(f"/admin/incidents/incident/{incident.pk}/aware/").status_code == 404
    for step, body in (("aware/", {"aware_at": timezone.now().isoformat(), "reason": "x"}), ("classify-major/", {"reason": "x"}), (f"obligations/{gdpr.pk}/not-applicable/", {"reason": "x"})):
        answer = api(outsider).post(f"/api/v1/incidents/{incident.pk}/{step}", body, format="json")
        assert answer.status_code == 404, step
    # The audit log: the submission's history is hidden with the incident.
    services.obligation_submit(incident=incident, obligation=gdpr, actor=superuser, recipient="x", text="x")
    rules = history_rules(outsider)
    assert not rules[ObligationSubmission].visible(ObligationSubmission.history.all()).exists()
    assert ObligationSubmission.history.count() == 1


@pytest.mark.django_db
def test_admin_page_shows_obligations_and_records_a_submission(coordinator, client):
    seeded()
    incident = report("Privacy")
    gdpr = Obligation.objects.get(name=GDPR)
    client.force_login(coordinator)
    page = client.get(f"/admin/incidents/incident/{incident.pk}/change/").content.decode()
    assert "Notification obligations" in page and GDPR in page and "pending" in page
    assert "UTC" in page
    url = f"/admin/incidents/incident/{incident.pk}/obligations/{gdpr.pk}/submit/"
    response = client.post(url, {"recipient": "DPA", "reference": "R-9", "text": "Report"})
    assert response.status_code == 302
    assert ObligationSubmission.objects.get().reference == "R-9"
    listing = client.get("/admin/incidents/incident/?obligation=met").content.decode()
    assert incident.reference in listing
    assert incident.reference not in client.get("/admin/incidents/incident/?obligation=breached").content.decode()
    dashboard = client.get("/admin/incidents/incident/dashboard/").content.decode()
    assert "Notification obligations breached" in dashboard


@pytest.mark.django_db
def test_the_workspace_shows_each_clock_and_records_a_submission_from_the_incident_page(coordinator, compliance_user, client):
    import re

    seeded()
    incident = report("Privacy", occurred_hours_ago=30)
    gdpr = Obligation.objects.get(name=GDPR)
    page_url = f"/admin/incidents/incident/{incident.pk}/change/"
    client.force_login(coordinator)
    page = client.get(page_url).content.decode()
    part = page[page.index('id="workspace-obligations"'):]
    part = part[: part.index("</section>")]
    due = (incident.reported_at + 72 * H).strftime("%d %b %Y %H:%M UTC")
    assert GDPR in part and f"left (due {due})" in part
    action = f'action="/admin/incidents/incident/{incident.pk}/obligations/{gdpr.pk}/submit/"'
    assert action in part and "Record the submission" in part
    response = client.post(
        f"/admin/incidents/incident/{incident.pk}/obligations/{gdpr.pk}/submit/",
        {"recipient": "Datatilsynet", "reference": "DT-2026-17", "text": "Initial notification"},
    )
    assert response.status_code == 302 and response["Location"] == page_url
    page = client.get(page_url).content.decode()
    part = page[page.index('id="workspace-obligations"'):]
    part = part[: part.index("</section>")]
    assert re.search(r"sent \d\d \w{3} \d{4} \d\d:\d\d UTC to Datatilsynet", part), part
    assert "Record the submission" not in part
    # Compliance reads the clocks but records nothing.
    client.force_login(compliance_user)
    page = client.get(page_url).content.decode()
    assert 'id="workspace-obligations"' in page and "Record the submission" not in page


@pytest.mark.django_db
def test_the_metrics_count_obligations_met_missed_and_breached(coordinator, api):
    """The dashboard's and the API's "obligations met": of those that fell due."""
    seeded()
    gdpr = Obligation.objects.get(name=GDPR)
    on_time = report("Privacy")
    services.obligation_submit(incident=on_time, obligation=gdpr, actor=coordinator, recipient="DPA", text="Report")
    late = report("Privacy", occurred_hours_ago=100)
    services.incident_set_aware(incident=late, actor=coordinator, aware_at=late.reported_at - 80 * H, reason="Found in audit")
    services.obligation_submit(incident=late, obligation=gdpr, actor=coordinator, recipient="DPA", text="Late")
    forgotten = report("Privacy", occurred_hours_ago=100)
    services.incident_set_aware(incident=forgotten, actor=coordinator, aware_at=forgotten.reported_at - 80 * H, reason="Found in audit")
    report("Privacy")  # pending: not yet due, not counted
    figures = api(coordinator).get("/api/v1/metrics/incidents/").json()["obligations_met"]
    assert figures == {
        "due": 3, "met": 1, "missed": 1, "breached": 1, "met_percent": 33.3,
        "incidents_breached": 1, "incidents_at_risk": 0,
    }


@pytest.mark.django_db
def test_the_incident_page_reads_its_obligations_once_whatever_its_category_carries(
    coordinator, client
):
    """The page shows the obligations twice (their section and the workspace's clocks) from
    one read: the same queries for an incident whose category carries none and one with
    a submission and a waiver."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    seeded()
    f.targets()
    Category.objects.create(name="Facilities")
    bare = report("Facilities")
    busy = report("Security")
    services.obligation_submit(
        incident=busy, obligation=Obligation.objects.get(name=EARLY), actor=coordinator,
        recipient="CSIRT", text="Early warning",
    )  # fmt: skip
    services.obligation_not_applicable(
        incident=busy, obligation=Obligation.objects.get(name=NOTIFY), actor=coordinator,
        reason="Not significant after all",
    )  # fmt: skip
    client.force_login(coordinator)

    def queries_of(incident):
        url = f"/admin/incidents/incident/{incident.pk}/change/"
        client.get(url)
        with CaptureQueriesContext(connection) as ctx:
            page = client.get(url)
        assert page.status_code == 200
        return len(ctx.captured_queries), page.content.decode()

    (bare_count, bare_page), (busy_count, busy_page) = queries_of(bare), queries_of(busy)
    assert "None for this category." in bare_page
    assert "to CSIRT" in busy_page and "Not significant after all" in busy_page
    assert bare_count == busy_count, (bare_count, busy_count)

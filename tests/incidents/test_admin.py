"""The coordinators' admin: fixed-cost lists, actions through the services, confidential records hidden."""

import datetime

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from incidents import services
from incidents.models import Escalation, Status
from tests import factories
from tests.incidents import factories as f

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:incidents_incident_changelist")


def changelist_queries(client):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(CHANGELIST)
    assert response.status_code == 200
    return len(ctx.captured_queries), response


def test_changelist_costs_the_same_queries_at_5_and_50_rows(client, coordinator):
    f.targets()
    client.force_login(coordinator)
    reporter = factories.staff(username="rep")
    for n in range(5):
        f.incident(reporter, title=f"incident {n}", impact=1 + n % 4)
    client.get(CHANGELIST)  # warm the permission caches
    at_5, response = changelist_queries(client)
    assert response.content.count(b'class="action-select"') == 5
    for n in range(5, 50):
        f.incident(reporter, title=f"incident {n}", impact=1 + n % 4, urgency=1 + n % 3)
    at_50, response = changelist_queries(client)
    assert response.content.count(b'class="action-select"') == 50
    assert at_5 == at_50, (at_5, at_50)
    assert at_50 <= 12


def test_changelist_shows_reference_priority_status_and_target_state(client, coordinator):
    f.targets()
    incident = f.incident(impact=1, urgency=1, title="Ransomware on file server")
    incident.reported_at -= datetime.timedelta(hours=2)  # P1 is acknowledged within 15 minutes
    incident.save()
    client.force_login(coordinator)
    page = client.get(CHANGELIST).content.decode()
    assert incident.reference in page
    assert ">P1 · critical<" in page
    assert ">Reported<" in page
    assert ">breached<" in page
    breached = client.get(CHANGELIST, {"targets": "breached"}).content.decode()
    assert incident.reference in breached


def test_search_and_filters(client, coordinator):
    one = f.incident(title="Phishing wave", impact=4, urgency=4)
    two = f.incident(title="Data centre flood", impact=1, urgency=1)
    client.force_login(coordinator)
    found = client.get(CHANGELIST, {"q": "flood"}).content.decode()
    assert two.reference in found and one.reference not in found
    p4 = client.get(CHANGELIST, {"priority__exact": "P4"}).content.decode()
    assert one.reference in p4 and two.reference not in p4


def bulk(client, action, incidents, **data):
    return client.post(
        CHANGELIST,
        {"action": action, ACTION_CHECKBOX_NAME: [i.pk for i in incidents], "apply": "1", **data},
    )


def test_transition_action_moves_every_selected_incident_with_the_reason(client, coordinator):
    incidents = [f.incident(title=f"i{n}") for n in range(3)]
    client.force_login(coordinator)
    form = client.post(
        CHANGELIST, {"action": "transition_selected", ACTION_CHECKBOX_NAME: [i.pk for i in incidents]}
    )
    assert form.status_code == 200 and b"Move to" in form.content
    response = bulk(client, "transition_selected", incidents, status="triaged", reason="Morning triage")
    assert response.status_code == 302
    for incident in incidents:
        incident.refresh_from_db()
        assert incident.status == Status.TRIAGED
        latest = incident.history.first()
        assert latest.history_user == coordinator
        assert latest.history_change_reason == "Reported → Triaged: Morning triage"
        assert incident.timeline.filter(text__contains="Morning triage").exists()


def test_transition_action_offers_only_reachable_phases(client, coordinator):
    reported = f.incident(title="new")
    triaged = f.incident(title="seen")
    services.incident_transition(incident=triaged, actor=coordinator, status=Status.TRIAGED)
    client.force_login(coordinator)
    form = client.post(
        CHANGELIST, {"action": "transition_selected", ACTION_CHECKBOX_NAME: [reported.pk, triaged.pk]}
    )
    offered = set(form.context["form"].fields["status"].choices)
    assert {value for value, _ in offered} == {"triaged", "investigating", "cancelled"}
    # A phase none of them can reach is not even a choice.
    response = bulk(client, "transition_selected", [reported], status="closed", reason="")
    assert response.status_code == 200 and response.context["form"].errors["status"]
    reported.refresh_from_db()
    assert reported.status == Status.REPORTED


def test_transition_action_refuses_per_incident_with_a_message(client, coordinator):
    reported = f.incident(title="new")
    triaged = f.incident(title="seen")
    services.incident_transition(incident=triaged, actor=coordinator, status=Status.TRIAGED)
    client.force_login(coordinator)
    response = bulk(
        client, "transition_selected", [reported, triaged], status="investigating", reason="Go"
    )
    assert response.status_code == 302
    messages = [str(m) for m in response.wsgi_request._messages]
    assert any(m.startswith(reported.reference + ":") for m in messages), messages
    assert any("1 incident(s) done" in m for m in messages), messages
    reported.refresh_from_db()
    triaged.refresh_from_db()
    assert (reported.status, triaged.status) == (Status.REPORTED, Status.INVESTIGATING)


def test_escalate_action_creates_escalations_through_the_service(
    client, coordinator, mailoutbox, django_capture_on_commit_callbacks
):
    boss = factories.coordinator(username="boss", email="boss@example.org")
    incidents = [f.incident(title=f"i{n}") for n in range(2)]
    client.force_login(coordinator)
    with django_capture_on_commit_callbacks(execute=True):
        response = bulk(
            client, "escalate_selected", incidents, level="3", to_user=boss.pk, reason="Too slow"
        )
    assert response.status_code == 302
    escalations = Escalation.objects.filter(incident__in=incidents, to_user=boss)
    assert escalations.count() == 2
    assert {e.reason for e in escalations} == {"Too slow"}
    assert any("boss@example.org" in m.to for m in mailoutbox)


def test_escalate_action_needs_a_person_or_a_group(client, coordinator):
    incident = f.incident()
    client.force_login(coordinator)
    response = bulk(client, "escalate_selected", [incident], level="3", reason="x")
    assert response.status_code == 200
    assert b"Choose a person or a group" in response.content
    assert not Escalation.objects.exists()


@pytest.mark.parametrize("earlier_notes", [0, 60])
def test_editing_in_the_admin_rederives_priority_and_records_the_user(client, coordinator, earlier_notes):
    from incidents.admin.inlines import TIMELINE_SHOWN

    incident = f.incident(impact=3, urgency=3)
    for n in range(earlier_notes):
        services.timeline_note_add(incident=incident, actor=coordinator, text=f"Earlier note {n}")
    client.force_login(coordinator)
    url = reverse("admin:incidents_incident_change", args=[incident.pk])
    page = client.get(url)
    assert page.status_code == 200
    # A long timeline shows its latest entries; the form still saves with them.
    shown = incident.timeline.count() if not earlier_notes else TIMELINE_SHOWN
    timeline = next(i.formset for i in page.context["inline_admin_formsets"] if i.formset.model.__name__ == "TimelineEntry")
    assert timeline.initial_form_count() == shown
    if earlier_notes:
        assert f"Earlier note {earlier_notes - 1}" in page.content.decode()
        assert "Earlier note 0" not in page.content.decode()
    form = page.context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    occurred = data.pop("occurred_at")
    data.update(impact=1, urgency=1, occurred_at_0=occurred.date(), occurred_at_1=occurred.time())
    responder = factories.staff(username="responder")
    prefixes = {}
    for inline in page.context["inline_admin_formsets"]:
        formset = inline.formset
        prefixes[formset.model.__name__] = (formset.prefix, formset.initial_form_count())
        management = formset.management_form
        for name in management.fields:
            data[f"{formset.prefix}-{name}"] = management[name].value()
        for subform in formset.initial_forms:  # what the browser sends back for existing rows
            for name in subform.fields:
                value = subform[name].value()
                if value is not None:
                    data[subform.add_prefix(name)] = value

    def add_row(model, **fields):
        prefix, initial = prefixes[model]
        data[f"{prefix}-TOTAL_FORMS"] = initial + 1
        data.update({f"{prefix}-{initial}-{name}": value for name, value in fields.items()})

    add_row("TeamMember", user=responder.pk, role="responder")
    add_row("Action", kind="corrective", description="Patch the firewall", status="open")
    add_row("TimelineEntry", text="Vendor called back")
    response = client.post(url, data)
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    incident.refresh_from_db()
    assert (incident.impact, incident.urgency, incident.priority) == (1, 1, "P1")
    assert incident.history.first().history_user == coordinator
    assert incident.team.get().user == responder
    action = incident.actions.get()
    assert action.description == "Patch the firewall"
    assert action.history.first().history_user == coordinator
    assert incident.timeline.filter(kind="note", text="Vendor called back", author=coordinator).exists()


def test_dashboard_shows_the_metrics(client, coordinator):
    f.incident(impact=1, urgency=1)
    f.incident(impact=4, urgency=4)
    client.force_login(coordinator)
    response = client.get(reverse("admin:incidents_incident_dashboard"))
    assert response.status_code == 200
    assert response.context["m"]["incidents"] == 2
    assert b"Incident dashboard" in response.content


def test_staff_without_admin_access_cannot_open_the_dashboard(client, staff_user):
    client.force_login(staff_user)
    response = client.get(reverse("admin:incidents_incident_dashboard"))
    assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.fixture
def secret(superuser):
    incident = f.incident(factories.staff(username="whistle"), confidential=True, title="Secret matter")
    services.timeline_note_add(incident=incident, actor=superuser, text="hush")
    return incident


def test_confidential_incidents_do_not_exist_for_coordinators_outside_the_team(client, secret):
    outsider = factories.coordinator(username="outsider")
    client.force_login(outsider)
    assert secret.reference.encode() not in client.get(CHANGELIST).content
    change = client.get(reverse("admin:incidents_incident_change", args=[secret.pk]))
    assert change.status_code == 302  # the admin's "does not exist" redirect
    history = client.get(reverse("admin:incidents_incident_history", args=[secret.pk]))
    assert history.status_code == 404
    autocomplete = client.get(
        reverse("admin:autocomplete"),
        {"app_label": "incidents", "model_name": "action", "field_name": "incident", "term": "Secret"},
    )
    assert autocomplete.status_code == 200
    assert autocomplete.json()["results"] == []
    timeline = client.get(reverse("admin:incidents_timelineentry_changelist")).content
    assert b"hush" not in timeline
    dashboard = client.get(reverse("admin:incidents_incident_dashboard"))
    assert dashboard.context["m"]["incidents"] == 0


def test_team_members_see_the_confidential_incident_in_the_admin(client, secret, superuser):
    member = factories.coordinator(username="member")
    services.team_member_add(incident=secret, actor=superuser, user=member)
    client.force_login(member)
    assert secret.reference.encode() in client.get(CHANGELIST).content
    assert client.get(reverse("admin:incidents_incident_change", args=[secret.pk])).status_code == 200
    assert client.get(reverse("admin:incidents_incident_history", args=[secret.pk])).status_code == 200
    autocomplete = client.get(
        reverse("admin:autocomplete"),
        {"app_label": "incidents", "model_name": "action", "field_name": "incident", "term": "Secret"},
    )
    assert [r["id"] for r in autocomplete.json()["results"]] == [str(secret.pk)]


def test_history_page_hides_an_anonymous_reporter_from_coordinators(client, coordinator, compliance_user):
    reporter = factories.staff(username="anonymous_reporter", first_name="Rhea", last_name="Porter")
    incident = f.incident(reporter, anonymous=True)
    services.incident_update(incident=incident, actor=coordinator, title="Edited title")
    url = reverse("admin:incidents_incident_history", args=[incident.pk])
    client.force_login(coordinator)
    page = client.get(url).content.decode()
    assert "Edited title" in page or "title" in page
    assert "anonymous_reporter" not in page and "Rhea" not in page
    client.force_login(compliance_user)
    assert "Rhea Porter" in client.get(url).content.decode()  # people by full name (issue 12.9)


def test_timeline_entries_show_their_text_once_on_the_change_page(client, coordinator):
    incident = f.incident()
    services.timeline_note_add(incident=incident, actor=coordinator, text="Vendor confirmed the leak")
    client.force_login(coordinator)
    page = client.get(reverse("admin:incidents_incident_change", args=[incident.pk]))
    html = page.content.decode()
    # The row's title (the entry's str(), repeating its text) is hidden; the row shows the text.
    assert 'id="timeline-group"' in html
    assert "#timeline-group td.original p { display: none; }" in html
    assert html.count("Vendor confirmed the leak") == 2  # the hidden title and the text cell


def test_configuration_is_added_and_edited_through_the_services(client, superuser):
    from incidents.models import MessageTemplate, ResponseTarget

    client.force_login(superuser)
    added = client.post(
        reverse("admin:incidents_messagetemplate_add"),
        {"name": "Outage", "scenario": "", "subject": "{reference} down", "body": "{title}", "active": "on"},
    )
    assert added.status_code == 302
    template = MessageTemplate.objects.get(name="Outage")
    record = template.history.get()
    assert record.history_user == superuser and record.history_change_reason == "Created"
    refused = client.post(
        reverse("admin:incidents_messagetemplate_add"),
        {"name": "Bad", "subject": "{nope}", "body": "x", "active": "on"},
    )
    assert refused.status_code == 200 and "Unknown placeholder" in refused.content.decode()
    assert not MessageTemplate.objects.filter(name="Bad").exists()

    f.targets()
    target = ResponseTarget.objects.get(priority="P1")
    url = reverse("admin:incidents_responsetarget_change", args=[target.pk])
    form = {
        "priority": "P1",
        "acknowledge_minutes": target.acknowledge_minutes,
        "contain_minutes": target.contain_minutes,
        "recover_minutes": target.recover_minutes,
        "update_minutes": 45,
    }
    assert client.post(url, form).status_code == 302
    target.refresh_from_db()
    assert target.update_minutes == 45
    assert target.history.first().history_change_reason == "Edited in the admin"

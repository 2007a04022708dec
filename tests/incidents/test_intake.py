"""The incident intake (issue 12 item 2): every report is seen, triaged and announced.

A confidential report filed by staff has no team yet. Members of `Incident intake` see it
(and every other incident without a manager) in the admin and the API, triage it there
(classify, name the manager and team, move it to triaged, escalate), and are emailed each
new report, a confidential one by its reference only. Once a manager is named, the
confidential incident is its team's again: an intake member outside it loses it.
"""

from io import StringIO

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.errors import NotPermitted
from core.roles import COORDINATORS, INCIDENT_INTAKE, STAFF
from incidents import queries, services
from incidents.models import Escalation, Incident, Status
from tests import factories
from tests.incidents import factories as f

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:incidents_incident_changelist")
TITLE = "Manager reads the HR mailbox"
DESCRIPTION = "My manager opened the HR mailbox and forwarded three messages."
SERVICE = "Exchange HR mailbox"


def intake(username="desk", **kwargs):
    """A member of the intake only (besides Staff): no coordinator rights of their own."""
    return factories.UserFactory(
        username=username, groups=[INCIDENT_INTAKE, STAFF], is_staff=True, **kwargs
    )


@pytest.fixture
def desk(db):
    return intake()


@pytest.fixture
def whistle(db):
    return factories.staff(username="whistle", first_name="Wanda", last_name="Whistler")


@pytest.fixture
def secret(whistle):
    return f.incident(
        whistle, confidential=True, title=TITLE, description=DESCRIPTION, affected_service=SERVICE
    )


def change_url(incident):
    return reverse("admin:incidents_incident_change", args=[incident.pk])


def change_form_data(client, url):
    """What the browser sends back for the change page as it is; inline prefixes by model."""
    page = client.get(url)
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    occurred = data.pop("occurred_at")
    data.update(occurred_at_0=occurred.date(), occurred_at_1=occurred.time())
    prefixes = {}
    for inline in page.context["inline_admin_formsets"]:
        formset = inline.formset
        prefixes[formset.model.__name__] = (formset.prefix, formset.initial_form_count())
        for name in formset.management_form.fields:
            data[f"{formset.prefix}-{name}"] = formset.management_form[name].value()
        for subform in formset.initial_forms:
            for name in subform.fields:
                if subform[name].value() is not None:
                    data[subform.add_prefix(name)] = subform[name].value()
    return data, prefixes


def bulk(client, action, incidents, **form):
    return client.post(
        CHANGELIST,
        {
            "action": action,
            ACTION_CHECKBOX_NAME: [i.pk for i in incidents],
            "apply": "1",
            **form,
        },
    )


# -- the role ------------------------------------------------------------------


def test_the_intake_group_is_a_role_with_its_permissions_and_comes_back_after_migrate():
    group = Group.objects.get(name=INCIDENT_INTAKE)  # made by the roles migration
    codenames = set(group.permissions.values_list("codename", flat=True))
    assert {"triage_unassigned", "view_incident", "change_incident", "add_escalation"} <= codenames
    group.delete()  # as on a database migrated before the role existed
    call_command("migrate", verbosity=0, stdout=StringIO())
    again = Group.objects.get(name=INCIDENT_INTAKE)
    assert set(again.permissions.values_list("codename", flat=True)) == codenames


def test_the_demo_coordinator_is_on_the_intake_and_sees_the_waiting_confidential_report(settings):
    settings.DEBUG = True
    call_command("demo", stdout=StringIO())
    coordinator = get_user_model().objects.get(username="coordinator")
    coordinator.groups.remove(Group.objects.get(name=INCIDENT_INTAKE))  # an older demo database
    call_command("demo", stdout=StringIO())
    coordinator = get_user_model().objects.get(username="coordinator")
    assert coordinator.groups.filter(name=INCIDENT_INTAKE).exists()
    waiting = Incident.objects.get(confidential=True, incident_manager=None)
    assert queries.can_see(coordinator, waiting)
    assert not queries.can_see(get_user_model().objects.get(username="approver"), waiting)


# -- seeing an unassigned confidential report ----------------------------------


def test_a_confidential_staff_report_is_seen_by_the_intake_in_the_admin_and_the_api(
    client, api, desk, secret
):
    client.force_login(desk)
    changelist = client.get(CHANGELIST)
    assert changelist.status_code == 200 and secret.reference in changelist.content.decode()
    page = client.get(change_url(secret))
    assert page.status_code == 200 and TITLE in page.content.decode()

    rows = api(desk).get("/api/v1/incidents/").json()
    assert [row["id"] for row in rows["results"]] == [secret.pk] and rows["count"] == 1
    detail = api(desk).get(f"/api/v1/incidents/{secret.pk}/")
    assert detail.status_code == 200
    assert detail.json()["title"] == TITLE and "allowed_transitions" in detail.json()
    assert api(desk).get(f"/api/v1/incidents/{secret.pk}/timeline/").status_code == 200


def test_a_coordinator_outside_the_intake_still_does_not_see_it(client, api, secret):
    outsider = factories.coordinator(username="outsider")
    client.force_login(outsider)
    assert secret.reference not in client.get(CHANGELIST).content.decode()
    assert api(outsider).get(f"/api/v1/incidents/{secret.pk}/").status_code == 404


# -- triage --------------------------------------------------------------------


def test_the_intake_triages_it_in_the_admin_then_loses_it(client, desk, secret):
    manager = factories.coordinator(username="manager")
    responder = factories.staff(username="responder")
    privacy = f.category("Privacy")
    client.force_login(desk)

    assert (
        bulk(client, "transition_selected", [secret], status="triaged", reason="Real").status_code
        == 302
    )
    escalated = bulk(
        client, "escalate_selected", [secret], level="2", to_user=manager.pk, reason="HR involved"
    )
    assert escalated.status_code == 302
    data, prefixes = change_form_data(client, change_url(secret))
    data.update(category=privacy.pk, impact=2, urgency=1, incident_manager=manager.pk)
    prefix, initial = prefixes["TeamMember"]
    data[f"{prefix}-TOTAL_FORMS"] = initial + 1
    data.update({f"{prefix}-{initial}-user": responder.pk, f"{prefix}-{initial}-role": "responder"})
    response = client.post(change_url(secret), data)
    assert response.status_code == 302 and response["Location"] == CHANGELIST

    secret.refresh_from_db()
    assert (secret.status, secret.category, secret.priority) == (Status.TRIAGED, privacy, "P1")
    assert secret.incident_manager == manager
    assert list(secret.team.values_list("user__username", flat=True)) == ["responder"]
    assert Escalation.objects.get(incident=secret).to_user == manager
    assert secret.history.first().history_user == desk

    # The team's now: the intake member, not on it, is told so and finds nothing.
    told = client.get(response["Location"])
    assert "only its response team sees it: it has left your list" in told.content.decode()
    assert list(told.context["cl"].result_list) == []
    assert secret.reference not in client.get(CHANGELIST).content.decode()
    assert client.get(change_url(secret)).status_code == 302  # the admin's "does not exist"
    history = reverse("admin:incidents_incident_history", args=[secret.pk])
    assert client.get(history).status_code == 404
    content_type = ContentType.objects.get_for_model(Incident).pk
    assert client.get(f"/admin/r/{content_type}/{secret.pk}/").status_code == 404
    bulk(client, "transition_selected", [secret], status="investigating", reason="x")
    secret.refresh_from_db()
    assert secret.status == Status.TRIAGED


def test_the_intake_triages_it_over_the_api_then_gets_404(api, desk, secret):
    manager = factories.coordinator(username="manager")
    client = api(desk)
    url = f"/api/v1/incidents/{secret.pk}/"
    moved = client.post(f"{url}transition/", {"status": "triaged", "reason": "Real"}, format="json")
    assert moved.status_code == 200 and moved.json()["status"] == "triaged"
    escalation = client.post(
        f"{url}escalations/", {"level": "2", "to_user": manager.pk, "reason": "HR"}, format="json"
    )
    assert escalation.status_code == 201
    classified = client.patch(url, {"impact": 1, "urgency": 2}, format="json")
    assert classified.status_code == 200 and classified.json()["priority"] == "P1"
    assigned = client.patch(url, {"incident_manager": manager.pk}, format="json")
    assert assigned.status_code == 204 and not assigned.content  # saved; nothing left to show

    secret.refresh_from_db()
    assert (secret.incident_manager, secret.status, secret.priority) == (manager, "triaged", "P1")
    assert client.get(url).status_code == 404
    assert client.get("/api/v1/incidents/").json()["count"] == 0
    assert client.patch(url, {"impact": 4}, format="json").status_code == 404
    assert (
        client.post(f"{url}transition/", {"status": "investigating"}, format="json").status_code
        == 404
    )
    assert api(manager).get(url).status_code == 200


def test_any_edit_that_takes_an_incident_out_of_its_writers_sight_is_saved_and_said(
    api, client, coordinator
):
    """The same door for a coordinator marking someone else's incident confidential: the
    write is kept and answered as such (204 / a message), never a 404 after the fact."""
    by_api, by_admin = f.incident(title="Payroll file"), f.incident(title="HR file")
    marked = api(coordinator).patch(
        f"/api/v1/incidents/{by_api.pk}/", {"confidential": True}, format="json"
    )
    assert marked.status_code == 204
    by_api.refresh_from_db()
    assert by_api.confidential
    assert api(coordinator).get(f"/api/v1/incidents/{by_api.pk}/").status_code == 404

    client.force_login(coordinator)
    data, _ = change_form_data(client, change_url(by_admin))
    data["confidential"] = "on"
    response = client.post(change_url(by_admin), data, follow=True)
    assert "only its response team sees it: it has left your list" in response.content.decode()
    by_admin.refresh_from_db()
    assert by_admin.confidential


def test_once_a_manager_is_named_the_services_refuse_an_intake_member_off_the_team(
    desk, secret, superuser
):
    manager = factories.coordinator(username="manager")
    secret = services.incident_update(incident=secret, actor=desk, incident_manager=manager)
    assert not queries.can_see(desk, secret)
    attempts = [
        lambda: services.incident_update(incident=secret, actor=desk, impact=1),
        lambda: services.incident_transition(incident=secret, actor=desk, status="triaged"),
        lambda: services.incident_escalate(
            incident=secret, actor=desk, level="2", to_user=manager, reason="x"
        ),
        lambda: services.team_member_add(incident=secret, actor=desk, user=desk),
        lambda: services.timeline_note_add(incident=secret, actor=desk, text="x"),
    ]
    for attempt in attempts:
        with pytest.raises(NotPermitted):
            attempt()
    # On the team, they keep it; without a manager again, it is the intake's again.
    secret = services.incident_update(incident=secret, actor=superuser, incident_manager=None)
    assert queries.can_see(desk, secret)
    services.incident_transition(incident=secret, actor=desk, status="triaged")


def test_the_intake_sees_what_has_no_manager_and_no_more_than_coordinators_otherwise(
    desk, superuser
):
    managed_secret = f.incident(confidential=True, title="Managed secret")
    managed_secret = services.incident_update(
        incident=managed_secret, actor=superuser, incident_manager=factories.coordinator()
    )
    open_report = f.incident(title="Printer on fire")
    waiting_secret = f.incident(confidential=True, title="Waiting secret")
    seen = set(queries.fully_visible_incidents(desk))
    assert seen == {open_report, waiting_secret}
    assert set(queries.visible_incidents(desk)) == seen
    assert [queries.can_see(desk, i) for i in (managed_secret, open_report, waiting_secret)] == [
        False,
        True,
        True,
    ]


# -- the email -----------------------------------------------------------------


@pytest.fixture
def desks(db):
    """Two intake members and a former one (inactive)."""
    intake("desk-a", email="a@example.org")
    intake("desk-b", email="b@example.org")
    intake("desk-gone", email="gone@example.org", is_active=False)


def test_every_new_report_emails_the_intake_once_when_it_commits(
    api, desks, django_capture_on_commit_callbacks
):
    reporter = factories.staff(username="rep", first_name="Rita", last_name="Reporter")
    body = {
        "title": "Printer on fire",
        "description": "Smoke from the second floor printer.",
        "occurred_at": "2026-01-05T09:00:00Z",
        "category": f.category().pk,
        "affected_service": "Printing",
    }
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        created = api(reporter).post("/api/v1/incidents/", body, format="json")
    assert created.status_code == 201
    assert mail.outbox == []  # nothing leaves before the report is committed
    for callback in callbacks:
        callback()
    reference = created.json()["reference"]
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert sorted(email.to) == ["a@example.org", "b@example.org"]
    assert email.subject == f"[P3] New report to triage: {reference} Printer on fire"
    assert "Smoke from the second floor printer." in email.body
    assert "Reported by: Rita Reporter" in email.body and "Printing" in email.body
    assert f"/admin/incidents/incident/{created.json()['id']}/change/" in email.body


def test_a_confidential_report_emails_the_intake_its_reference_and_link_only(
    whistle, desks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        incident = f.incident(
            whistle,
            confidential=True,
            title=TITLE,
            description=DESCRIPTION,
            affected_service=SERVICE,
        )
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.subject == f"New confidential report to triage: {incident.reference}"
    assert incident.reference in email.body and services.incident_url(incident) in email.body
    for secret in (TITLE, DESCRIPTION, SERVICE, "Wanda", "Whistler", "whistle", "Security"):
        assert secret not in email.subject and secret not in email.body


def test_an_anonymous_report_never_names_its_reporter(desks, django_capture_on_commit_callbacks):
    reporter = factories.staff(username="quiet", first_name="Quinn", last_name="Quiet")
    with django_capture_on_commit_callbacks(execute=True):
        f.incident(reporter, anonymous=True, title="Broken lock on the server room")
    (email,) = mail.outbox
    assert "Broken lock on the server room" in email.subject
    assert "Reported by: anonymous" in email.body
    for name in ("Quinn", "Quiet", "quiet"):
        assert name not in email.subject and name not in email.body


def test_the_reporter_of_a_confidential_report_is_not_emailed_its_content(
    desks, django_capture_on_commit_callbacks
):
    staff_reporter = factories.staff(username="plain", email="plain@example.org")
    on_the_desk = intake("desk-reporter", email="desk-reporter@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        f.incident(staff_reporter, confidential=True, title=TITLE, description=DESCRIPTION)
        f.incident(on_the_desk, confidential=True, title=TITLE, description=DESCRIPTION)
    assert len(mail.outbox) == 2
    assert not any("plain@example.org" in email.to for email in mail.outbox)
    assert all("desk-reporter@example.org" in email.to for email in mail.outbox)
    for email in mail.outbox:
        assert TITLE not in email.subject + email.body
        assert DESCRIPTION not in email.body


def test_an_intake_email_the_mail_server_refuses_is_on_the_incidents_timeline(
    desks, whistle, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "tests.core.test_outputs.RefusingBackend"
    with django_capture_on_commit_callbacks(execute=True):
        incident = f.incident(whistle, confidential=True, title=TITLE)
    failure = incident.timeline.get(text__contains="failed")
    assert failure.text.startswith(
        f"Email “New confidential report to triage: {incident.reference}” to a@example.org, "
        "b@example.org failed (attempt 1 of 5)"
    )
    assert TITLE not in failure.text


# -- the list's cost -----------------------------------------------------------


def _reports(count, start=0):
    reporter = factories.staff(username="rep")
    for n in range(start, count):
        f.incident(reporter, title=f"incident {n}", impact=1 + n % 4, confidential=n % 3 == 0)


@pytest.mark.parametrize("rows", [5, 50])
def test_the_intakes_api_list_costs_the_coordinators_queries(
    api, desk, rows, django_assert_num_queries
):
    f.targets()
    _reports(rows)
    client = api(desk)
    client.get("/api/v1/incidents/?page_size=100")  # warm the permission cache
    # count + page + response targets, as for coordinators (tests/incidents/test_api.py)
    with django_assert_num_queries(3):
        response = client.get("/api/v1/incidents/?page_size=100")
    assert response.json()["count"] == rows and len(response.json()["results"]) == rows


def test_the_intakes_admin_list_costs_the_same_at_5_and_50_rows(client, desk):
    f.targets()
    _reports(5)

    def changelist_queries(user):
        client.force_login(user)
        client.get(CHANGELIST)  # warm the permission caches
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(CHANGELIST)
        assert response.status_code == 200
        return len(ctx.captured_queries), response.content.count(b'class="action-select"')

    coordinator = factories.UserFactory(
        username="coord", groups=[COORDINATORS, STAFF], is_staff=True
    )
    at_5 = changelist_queries(desk)
    assert at_5[1] == 5
    coordinators = changelist_queries(coordinator)
    _reports(50, start=5)
    at_50 = changelist_queries(desk)
    assert at_50 == (at_5[0], 50)
    assert coordinators[0] == at_5[0]

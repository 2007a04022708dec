"""Side doors to confidential incidents: write services, the reporter's view, change requests, emails.

Each test reproduces a way an attack run reached a confidential incident (or wrote to one)
without being on its team, and shows the door shut.
"""

import datetime
from io import StringIO

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from core.errors import NotPermitted
from incidents import services
from incidents.models import Action, EscalationRule, Incident, MessageTemplate, TimelineEntry
from plans import services as plan_services
from plans.models import PlanChangeRequest
from tests import factories
from tests.incidents import factories as f
from tests.plans.factories import published_plan

pytestmark = pytest.mark.django_db

SECRET = "Payroll export leaked"
SECRET_DETAIL = "Rotate the HR vendor keys"


@pytest.fixture
def team(superuser):
    """A confidential incident with a manager, an action, an escalation and a draft review."""
    manager = factories.coordinator(username="manager", email="manager@example.org")
    incident = f.incident(
        factories.staff(username="whistle"),
        confidential=True,
        title=SECRET,
        description="The payroll file went to the wrong vendor.",
    )
    services.incident_update(incident=incident, actor=superuser, incident_manager=manager)
    action = services.action_create(
        incident=incident, actor=manager, kind="corrective", description=SECRET_DETAIL
    )
    escalation = services.incident_escalate(
        incident=incident, actor=manager, level="2", to_user=manager, reason="Board must know"
    )
    services.review_save(
        incident=incident, actor=manager, summary="s", root_cause="r", lessons_learned="l"
    )
    return {"incident": incident, "manager": manager, "action": action, "escalation": escalation}


def _reported_by_a_coordinator(incident):
    """Make a coordinator (not on the team) the reporter, as if they had filed it."""
    reporter = factories.coordinator(username="coordinator-reporter")
    incident.refresh_from_db()
    incident.reporter = reporter
    incident.save()
    return reporter


def _writes(team):
    """Every write service, as a call on the `team` fixture's incident by `actor`."""
    incident, action, escalation = team["incident"], team["action"], team["escalation"]
    newcomer = factories.staff(username="newcomer")
    member = services.team_member_add(incident=incident, actor=team["manager"], user=newcomer)
    group, _ = Group.objects.get_or_create(name="Board")
    return {
        "update": lambda actor: services.incident_update(
            incident=incident, actor=actor, title="Renamed", confidential=False
        ),
        "transition": lambda actor: services.incident_transition(
            incident=incident, actor=actor, status="triaged"
        ),
        "escalate": lambda actor: services.incident_escalate(
            incident=incident, actor=actor, level="3", to_group=group, reason="x"
        ),
        "acknowledge": lambda actor: services.escalation_acknowledge(
            escalation=escalation, actor=actor
        ),
        "team_add": lambda actor: services.team_member_add(
            incident=incident, actor=actor, user=actor
        ),
        "team_remove": lambda actor: services.team_member_remove(member=member, actor=actor),
        "note": lambda actor: services.timeline_note_add(incident=incident, actor=actor, text="x"),
        "action_create": lambda actor: services.action_create(
            incident=incident, actor=actor, kind="corrective", description="x"
        ),
        "action_update": lambda actor: services.action_update(
            action=action, actor=actor, status="done"
        ),
        "review_save": lambda actor: services.review_save(
            incident=incident, actor=actor, summary="rewritten"
        ),
        "review_complete": lambda actor: services.review_complete(incident=incident, actor=actor),
        "communication": lambda actor: services.communication_send(
            incident=incident, actor=actor, subject="s", body="b", audience="x@example.org"
        ),
    }


WRITES = (
    "update",
    "transition",
    "escalate",
    "acknowledge",
    "team_add",
    "team_remove",
    "note",
    "action_create",
    "action_update",
    "review_save",
    "review_complete",
    "communication",
)


def _footprint(incident):
    """What any write would change: the incident's history, its timeline, its team."""
    return (
        incident.history.count(),
        TimelineEntry.objects.filter(incident=incident).count(),
        incident.team.count(),
        Action.objects.get(incident=incident).history.count(),
        incident.review.history.count(),
    )


@pytest.mark.parametrize("write", WRITES)
def test_an_off_team_coordinator_may_not_write_to_a_confidential_incident(team, write, superuser):
    call = _writes(team)[write]
    before = _footprint(team["incident"])
    with pytest.raises(NotPermitted):
        call(factories.coordinator(username="outsider"))
    assert _footprint(team["incident"]) == before
    # Its team still may (removing a member needs the delete permission: superusers only,
    # as in the admin, where no role may delete a team row).
    call(superuser if write == "team_remove" else team["manager"])


@pytest.mark.parametrize("write", WRITES)
def test_a_coordinator_who_only_reported_it_may_not_write_either(team, write):
    """Having filed a confidential report does not put a coordinator on its team."""
    reporter = _reported_by_a_coordinator(team["incident"])
    call = _writes(team)[write]
    before = _footprint(team["incident"])
    with pytest.raises(NotPermitted):
        call(reporter)
    assert _footprint(team["incident"]) == before


@pytest.mark.parametrize("confidential", [False, True])
@pytest.mark.parametrize("write", WRITES)
def test_compliance_may_not_call_any_write_service(team, compliance_user, write, confidential):
    if not confidential:
        services.incident_update(
            incident=team["incident"], actor=team["manager"], confidential=False
        )
    call = _writes(team)[write]
    before = _footprint(team["incident"])
    with pytest.raises(NotPermitted):
        call(compliance_user)
    assert _footprint(team["incident"]) == before


# -- through the admin and the API ---------------------------------------------------------


@pytest.fixture
def reported_by_coordinator(team):
    """The `team` incident, reported by a coordinator who is not on its team."""
    reporter = _reported_by_a_coordinator(team["incident"])
    return team["incident"], reporter


def _change_form_data(client, url):
    page = client.get(url)
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    occurred = data.pop("occurred_at")
    data.update(occurred_at_0=occurred.date(), occurred_at_1=occurred.time())
    for inline in page.context["inline_admin_formsets"]:
        formset = inline.formset
        for name in formset.management_form.fields:
            data[f"{formset.prefix}-{name}"] = formset.management_form[name].value()
        for subform in formset.initial_forms:
            for name in subform.fields:
                if subform[name].value() is not None:
                    data[subform.add_prefix(name)] = subform[name].value()
    return data


def test_the_admin_is_closed_to_a_coordinator_who_only_reported_it(
    client, reported_by_coordinator, superuser, compliance_user
):
    incident, reporter = reported_by_coordinator
    url = reverse("admin:incidents_incident_change", args=[incident.pk])
    client.force_login(superuser)
    data = _change_form_data(client, url)
    data["title"] = "Retitled by the reporter"
    data["confidential"] = ""

    client.force_login(reporter)
    assert client.get(url).status_code == 302  # "does not exist"
    client.post(url, data)
    changelist = reverse("admin:incidents_incident_changelist")
    client.post(
        changelist,
        {
            "action": "transition_selected",
            ACTION_CHECKBOX_NAME: [incident.pk],
            "apply": "1",
            "status": "triaged",
            "reason": "x",
        },
    )
    timeline = client.get(reverse("admin:incidents_timelineentry_changelist")).content.decode()
    actions = client.get(reverse("admin:incidents_action_changelist")).content.decode()
    incident.refresh_from_db()
    assert (incident.title, incident.confidential, incident.status) == (SECRET, True, "reported")
    assert "Board must know" not in timeline and SECRET_DETAIL not in actions

    client.force_login(compliance_user)  # read-only: the admin refuses the form itself
    assert client.post(url, data).status_code == 403
    incident.refresh_from_db()
    assert incident.title == SECRET


def test_the_admin_add_form_shows_a_service_refusal_as_a_message(client):
    """Reporting needs the add permission; naming the manager also needs the change one."""
    clerk = factories.staff(username="clerk", is_staff=True)  # admin access, Staff role only
    manager = factories.coordinator(username="manager")
    client.force_login(clerk)
    url = reverse("admin:incidents_incident_add")
    occurred = timezone.now() - datetime.timedelta(hours=1)
    data = {
        "title": SECRET,
        "description": "d",
        "occurred_at_0": occurred.date(),
        "occurred_at_1": occurred.time().replace(microsecond=0),
        "category": f.category().pk,
        "impact": 3,
        "urgency": 3,
        "confidential": "on",
        "incident_manager": manager.pk,
    }
    response = client.post(url, data, follow=True)
    assert response.status_code == 200
    assert "You do not have permission to do this." in response.content.decode()
    assert not Incident.objects.exists()


def test_the_api_writes_are_closed_to_a_coordinator_who_only_reported_it(
    api, reported_by_coordinator
):
    incident, reporter = reported_by_coordinator
    client = api(reporter)
    base = f"/api/v1/incidents/{incident.pk}"
    assert client.patch(f"{base}/", {"title": "x"}, format="json").status_code == 404
    assert (
        client.post(f"{base}/transition/", {"status": "triaged"}, format="json").status_code == 404
    )
    escalate = {"level": "2", "to_user": reporter.pk, "reason": "x"}
    assert client.post(f"{base}/escalations/", escalate, format="json").status_code == 404
    assert client.post(f"{base}/timeline/", {"text": "x"}, format="json").status_code == 404
    action = {"kind": "corrective", "description": "x"}
    assert client.post(f"{base}/actions/", action, format="json").status_code == 404
    incident.refresh_from_db()
    assert incident.title == SECRET and incident.status == "reported"


# -- the reporter's view -------------------------------------------------------------------

REPORTED_FIELDS = {
    "id",
    "reference",
    "title",
    "description",
    "affected_service",
    "observed_impact",
    "actions_taken",
    "category",
    "category_name",
    "impact",
    "urgency",
    "priority",
    "status",
    "occurred_at",
    "reported_at",
    "is_late",
    "confidential",
    "anonymous",
    "reporter",
}


def test_the_reporter_reads_what_they_reported_and_its_status_only(api, team):
    incident = team["incident"]
    reporter = incident.reporter
    services.incident_transition(incident=incident, actor=team["manager"], status="triaged")
    body = api(reporter).get(f"/api/v1/incidents/{incident.pk}/").json()
    assert set(body) == REPORTED_FIELDS
    assert body["title"] == SECRET and body["status"] == "triaged"
    row = api(reporter).get("/api/v1/incidents/").json()["results"][0]
    assert row["id"] == incident.pk and row["incident_manager"] is None
    assert row["target_state"] is None
    # The team reads it all.
    full = api(team["manager"]).get(f"/api/v1/incidents/{incident.pk}/").json()
    assert {"team", "targets", "incident_manager", "acknowledged_at"} <= set(full)


def test_the_browsable_api_shows_the_reporter_no_more(api, team):
    incident = team["incident"]
    for who in ("staff", "coordinator"):
        reader = incident.reporter if who == "staff" else _reported_by_a_coordinator(incident)
        page = api(reader).get(f"/api/v1/incidents/{incident.pk}/", HTTP_ACCEPT="text/html")
        assert page.status_code == 200
        html = page.content.decode()
        assert incident.reference in html
        for detail in ("allowed_transitions", "acknowledged_at", "next_update_due"):
            assert detail not in html, (reader.username, detail)


@pytest.mark.parametrize(
    ("who", "path"),
    [
        ("staff", "timeline/"),
        ("staff", "escalations/"),
        ("staff", "actions/"),
        # (Staff hold no history permission at all: 403 there, before and after.)
        ("coordinator", "timeline/"),
        ("coordinator", "escalations/"),
        ("coordinator", "actions/"),
        ("coordinator", "history/"),
    ],
)
def test_the_reporter_gets_404_from_every_sub_endpoint(api, team, path, who):
    incident = team["incident"]
    reporter = incident.reporter
    if who == "coordinator":
        reporter = _reported_by_a_coordinator(incident)
    response = api(reporter).get(f"/api/v1/incidents/{incident.pk}/{path}")
    assert response.status_code == 404
    assert SECRET_DETAIL not in response.content.decode()
    assert "Board must know" not in response.content.decode()


def test_the_reporter_cannot_read_the_actions_endpoint(api, team):
    reporter = team["incident"].reporter
    assert api(reporter).get(f"/api/v1/actions/{team['action'].pk}/").status_code == 404
    coordinator = _reported_by_a_coordinator(team["incident"])
    for path in ("", "history/"):
        response = api(coordinator).get(f"/api/v1/actions/{team['action'].pk}/{path}")
        assert response.status_code == 404, path


# -- plan change requests ------------------------------------------------------------------


@pytest.fixture
def governed(superuser):
    plan, version, author, approver = published_plan(code="IRP")
    manager = factories.coordinator(username="manager")
    incident = f.incident(
        category=f.category("Governed", plan=plan), confidential=True, title=SECRET
    )
    services.incident_update(incident=incident, actor=superuser, incident_manager=manager)
    services.review_save(
        incident=incident,
        actor=manager,
        summary="s",
        root_cause="r",
        lessons_learned="l",
        plan_change_needed=True,
        plan_change_description=SECRET_DETAIL,
    )
    review = services.review_complete(incident=incident, actor=manager)
    return plan, author, incident, review


def test_a_confidential_review_files_a_change_request_that_copies_nothing(governed):
    plan, author, incident, review = governed
    request = PlanChangeRequest.objects.get(plan=plan)
    assert review.plan_change_request == request
    text = " ".join((request.summary, request.details, request.source))
    for leaked in (SECRET, SECRET_DETAIL, incident.reference):
        assert leaked not in text
    assert request.source_url.endswith(f"/admin/incidents/incident/{incident.pk}/change/")


def test_plan_readers_find_nothing_of_it_anywhere(api, client, governed, approver):
    plan, author, incident, review = governed
    draft = plan_services.version_create_draft(plan=plan, actor=author)
    reader = api(approver)
    listed = reader.get("/api/v1/plan-change-requests/").content.decode()
    assert reader.get(f"/api/v1/plan-change-requests/?search={SECRET_DETAIL}").json()["count"] == 0
    assert (
        reader.get(f"/api/v1/plan-change-requests/?search={incident.reference}").json()["count"]
        == 0
    )
    version = reader.get(f"/api/v1/plan-versions/{draft.pk}/").json()
    assert len(version["open_change_requests"]) == 1
    client.force_login(approver)
    pages = [
        listed,
        str(version["open_change_requests"]),
        client.get(reverse("admin:plans_planchangerequest_changelist")).content.decode(),
        client.get(
            reverse("admin:plans_planchangerequest_change", args=[review.plan_change_request_id])
        ).content.decode(),
        client.get(reverse("admin:plans_planversion_change", args=[draft.pk])).content.decode(),
        client.get(reverse("admin:plans_plan_change", args=[plan.pk])).content.decode(),
    ]
    for page in pages:
        assert SECRET_DETAIL not in page and SECRET not in page and incident.reference not in page


def test_a_change_request_stops_quoting_an_incident_made_confidential(api, approver):
    plan, version, author, _ = published_plan(code="IRP")
    manager = factories.coordinator(username="manager")
    incident = f.incident(category=f.category("Governed", plan=plan), title=SECRET)
    services.review_save(
        incident=incident,
        actor=manager,
        summary="s",
        root_cause="r",
        lessons_learned="l",
        plan_change_needed=True,
        plan_change_description=SECRET_DETAIL,
    )
    services.review_complete(incident=incident, actor=manager)
    assert SECRET_DETAIL in PlanChangeRequest.objects.get().details  # open: it may quote
    services.incident_update(incident=incident, actor=manager, confidential=True)
    listed = api(approver).get("/api/v1/plan-change-requests/").json()["results"]
    assert len(listed) == 1
    assert SECRET_DETAIL not in str(listed) and incident.reference not in str(listed)
    request = PlanChangeRequest.objects.get()
    assert request.history.first().history_user == manager
    assert request.history.first().history_change_reason == "Its incident became confidential"


def test_requests_filed_before_the_fix_are_restated_by_the_command(governed):
    plan, author, incident, review = governed
    # As filed before: the review's text and the reference in every field.
    quoted = plan_services.change_request_create(
        plan=plan,
        actor=author,
        summary=f"{incident.reference}: {SECRET_DETAIL}",
        details=SECRET_DETAIL,
        source=f"Post-incident review of {incident.reference}",
    )
    review.plan_change_request = quoted
    review.save()
    out = StringIO()
    call_command("restate_confidential_change_requests", stdout=out)
    call_command("restate_confidential_change_requests", stdout=out)
    assert out.getvalue().splitlines() == [
        "1 change request(s) restated.",
        "0 change request(s) restated.",
    ]
    quoted.refresh_from_db()
    assert SECRET_DETAIL not in quoted.summary + quoted.details
    assert incident.reference not in quoted.summary + quoted.details + quoted.source
    assert quoted.history.first().history_user.username == "system"


def test_only_those_with_the_add_permission_file_change_requests(compliance_user):
    plan, version, author, approver = published_plan(code="IRP")
    for reader in (compliance_user, factories.staff()):
        with pytest.raises(NotPermitted):
            plan_services.change_request_create(plan=plan, actor=reader, summary="Rewrite it")
    assert not PlanChangeRequest.objects.exists()


# -- emails --------------------------------------------------------------------------------


def _all_text(mailoutbox):
    return " ".join(m.subject + " " + m.body for m in mailoutbox)


def test_automatic_escalation_of_a_confidential_incident_mails_no_title(
    mailoutbox, django_capture_on_commit_callbacks
):
    f.targets()
    group, _ = Group.objects.get_or_create(name="On call")
    for n in range(3):
        factories.UserFactory(username=f"oncall{n}", groups=["On call"])
    EscalationRule.objects.create(priority="P1", level="2", to_group=group)
    incident = f.incident(impact=1, urgency=1, confidential=True, title=SECRET)
    later = timezone.now() + datetime.timedelta(minutes=30)
    with django_capture_on_commit_callbacks(execute=True):
        services.escalate_overdue(actor=factories.UserFactory(username="system"), now=later)
    assert len(mailoutbox) == 1 and len(mailoutbox[0].to) == 3
    assert SECRET not in _all_text(mailoutbox)
    assert incident.reference in mailoutbox[0].subject
    assert f"/admin/incidents/incident/{incident.pk}/change/" in mailoutbox[0].body
    # The system user holds no role: the rules escalate, whoever runs the timer.
    assert incident.escalations.get().escalated_by.username == "system"


def test_the_addressee_acknowledges_without_a_role_but_a_bystander_may_not(team):
    boss = factories.UserFactory(username="boss")  # no role: escalated to by name
    escalation = services.incident_escalate(
        incident=team["incident"], actor=team["manager"], level="3", to_user=boss, reason="x"
    )
    with pytest.raises(NotPermitted):
        services.escalation_acknowledge(escalation=escalation, actor=factories.staff())
    assert (
        services.escalation_acknowledge(escalation=escalation, actor=boss).acknowledged_by == boss
    )


def test_manual_escalation_of_a_confidential_incident_mails_no_title_or_reason(
    team, mailoutbox, django_capture_on_commit_callbacks
):
    boss = factories.UserFactory(username="boss", email="boss@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        services.incident_escalate(
            incident=team["incident"],
            actor=team["manager"],
            level="3",
            to_user=boss,
            reason=f"{SECRET_DETAIL} now",
        )
    assert mailoutbox[-1].to == ["boss@example.org"]
    assert SECRET not in _all_text(mailoutbox) and SECRET_DETAIL not in _all_text(mailoutbox)
    assert team["incident"].reference in mailoutbox[-1].subject


def test_a_template_does_not_pour_a_confidential_title_into_a_communication(
    team, mailoutbox, django_capture_on_commit_callbacks
):
    template = MessageTemplate.objects.create(
        name="Update",
        subject="{reference}: {title}",
        body="{title} ({affected_service}) is {status}.",
    )
    incident = team["incident"]
    services.incident_update(incident=incident, actor=team["manager"], affected_service="Payroll")
    with django_capture_on_commit_callbacks(execute=True):
        sent = services.communication_send(
            incident=incident, actor=team["manager"], template=template, audience="all@example.org"
        )
    assert SECRET not in sent.subject + sent.body and "Payroll" not in sent.body
    assert SECRET not in _all_text(mailoutbox) and incident.reference in mailoutbox[-1].subject


def test_a_restated_change_requests_history_shows_its_old_text_to_none_but_compliance(
    api, client, approver, compliance_user
):
    plan, version, author, _ = published_plan(code="IRP")
    manager = factories.coordinator(username="manager")
    incident = f.incident(category=f.category("Governed", plan=plan), title=SECRET)
    services.review_save(
        incident=incident,
        actor=manager,
        summary="s",
        root_cause="r",
        lessons_learned="l",
        plan_change_needed=True,
        plan_change_description=SECRET_DETAIL,
    )
    services.review_complete(incident=incident, actor=manager)
    services.incident_update(incident=incident, actor=manager, confidential=True)
    request = PlanChangeRequest.objects.get()
    outsider = factories.coordinator(username="outsider")
    api_url = f"/api/v1/plan-change-requests/{request.pk}/history/"
    admin_url = reverse("admin:plans_planchangerequest_history", args=[request.pk])
    for reader, may_read in ((outsider, False), (compliance_user, True)):
        body = api(reader).get(api_url)
        assert body.status_code == 200
        assert (SECRET_DETAIL in str(body.json())) is may_read
        client.force_login(reader)
        page = client.get(admin_url)
        assert page.status_code == 200
        assert (SECRET_DETAIL[:40] in page.content.decode()) is may_read

"""People by name in the admin: autocomplete over name, username and email, labels, filters, doors."""

import pytest
from django.urls import reverse

from incidents import services
from tests import factories
from tests.incidents import factories as f

pytestmark = pytest.mark.django_db

AUTOCOMPLETE = "/admin/autocomplete/"


def search(client, term, *, model="incident", field="incident_manager", app="incidents"):
    return client.get(
        AUTOCOMPLETE, {"app_label": app, "model_name": model, "field_name": field, "term": term}
    )


@pytest.fixture
def dana(db):
    return factories.coordinator(username="dscully", first_name="Dana", last_name="Scully")


def test_autocomplete_finds_people_by_name_username_or_email_and_shows_full_names(
    client, coordinator, dana
):
    client.force_login(coordinator)
    for term in ("Scully", "dana", "dscully", "dscully@example.org"):
        response = search(client, term)
        assert response.status_code == 200, term
        assert response.json()["results"] == [{"id": str(dana.pk), "text": "Dana Scully (dscully)"}]


def test_every_person_chooser_of_the_incident_page_autocompletes(client, coordinator, dana):
    client.force_login(coordinator)
    for model, field in (
        ("teammember", "user"),
        ("action", "owner"),
        ("escalation", "to_user"),
        ("postincidentreview", "participants"),
    ):
        response = search(client, "scully", model=model, field=field)
        assert response.status_code == 200, (model, field)
        assert response.json()["results"][0]["text"] == "Dana Scully (dscully)"


def test_autocomplete_answers_no_one_without_permission_to_see_people_or_the_records(client, dana):
    client.force_login(factories.staff(is_staff=True))  # in the admin, with no role
    assert search(client, "scully").status_code == 403
    # The intake may see people but not actions: the owner chooser is not theirs.
    intake = factories.UserFactory(groups=["Incident intake", "Staff"], is_staff=True)
    client.force_login(intake)
    assert search(client, "scully").status_code == 200
    assert search(client, "scully", model="action", field="owner").status_code == 403


def test_the_incident_page_and_list_show_the_manager_by_name(client, coordinator, dana):
    incident = f.incident(coordinator, incident_manager=dana)
    services.team_member_add(incident=incident, actor=coordinator, user=dana)
    client.force_login(coordinator)
    page = client.get(reverse("admin:incidents_incident_change", args=[incident.pk]))
    assert page.status_code == 200
    assert "Dana Scully (dscully)" in page.content.decode()
    listing = client.get(reverse("admin:incidents_incident_changelist")).content.decode()
    assert "Dana Scully (dscully)" in listing


def test_the_manager_filter_lists_only_people_who_manage_an_incident(client, coordinator, dana):
    f.incident(coordinator, incident_manager=dana)
    factories.coordinator(username="idle", first_name="Idle", last_name="Person")
    client.force_login(coordinator)
    listing = client.get(reverse("admin:incidents_incident_changelist")).content.decode()
    assert "Dana Scully (dscully)" in listing
    assert "Idle Person" not in listing
    narrowed = client.get(
        reverse("admin:incidents_incident_changelist"), {"incident_manager__id__exact": dana.pk}
    )
    assert narrowed.status_code == 200


def test_the_escalate_form_finds_its_recipient_by_autocomplete(client, coordinator, dana):
    incident = f.incident()
    client.force_login(coordinator)
    response = client.post(
        reverse("admin:incidents_incident_changelist"),
        {"action": "escalate_selected", "_selected_action": [incident.pk]},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "admin-autocomplete" in html
    assert "dscully" not in html  # no list of every user on the page


def test_an_escalation_shows_its_people_by_name(client, coordinator, dana):
    incident = f.incident()
    escalation = services.incident_escalate(
        incident=incident, actor=coordinator, level="2", to_user=dana, reason="x"
    )
    client.force_login(coordinator)
    page = client.get(reverse("admin:incidents_escalation_change", args=[escalation.pk]))
    assert page.status_code == 200 and "Dana Scully (dscully)" in page.content.decode()

"""The self-service pages: report an incident, follow your own reports."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from incidents.models import Incident
from tests import factories
from tests.incidents import factories as f

pytestmark = pytest.mark.django_db


def report_data(**overrides):
    data = {
        "title": "Laptop stolen from car",
        "description": "Left in the car overnight; the window was smashed.",
        "occurred_at": "2026-11-20T21:30",
        "affected_service": "Sales laptops",
        "category": f.category().pk,
        "impact": 3,
        "urgency": 2,
    }
    data.update(overrides)
    return data


def test_staff_report_an_incident_and_land_on_its_page(client, staff_user):
    client.force_login(staff_user)
    assert client.get(reverse("incidents:report")).status_code == 200
    response = client.post(reverse("incidents:report"), report_data(), follow=True)
    incident = Incident.objects.get()
    assert response.redirect_chain[-1][0] == reverse("incidents:detail", args=[incident.pk])
    assert incident.reference.encode() in response.content
    assert incident.reporter == staff_user
    assert incident.priority == "P2"  # moderate impact, high urgency: derived, never typed
    assert incident.history.first().history_user == staff_user


def test_a_bad_report_shows_the_errors_and_saves_nothing(client, staff_user):
    client.force_login(staff_user)
    response = client.post(reverse("incidents:report"), report_data(title="", occurred_at="yesterday"))
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"title", "occurred_at"}
    assert not Incident.objects.exists()


def test_a_report_dated_in_the_future_is_refused(client, staff_user):
    client.force_login(staff_user)
    response = client.post(reverse("incidents:report"), report_data(occurred_at="2099-01-01T10:00"))
    assert response.status_code == 200
    assert response.context["form"].errors
    assert not Incident.objects.exists()


def test_anonymous_reporters_still_follow_their_own_report(client, staff_user):
    client.force_login(staff_user)
    client.post(reverse("incidents:report"), report_data(anonymous="on", confidential="on"))
    incident = Incident.objects.get()
    assert incident.anonymous and incident.confidential
    mine = client.get(reverse("incidents:mine")).content.decode()
    assert incident.reference in mine
    assert client.get(reverse("incidents:detail", args=[incident.pk])).status_code == 200


def test_my_reports_lists_only_mine_and_others_are_not_found(client, staff_user):
    mine = f.incident(staff_user, title="Mine")
    theirs = f.incident(factories.staff(username="other"), title="Theirs")
    client.force_login(staff_user)
    page = client.get(reverse("incidents:mine")).content.decode()
    assert mine.reference in page and theirs.reference not in page
    assert client.get(reverse("incidents:detail", args=[theirs.pk])).status_code == 404


def test_pages_require_sign_in(client):
    for name in ("incidents:report", "incidents:mine"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and "login" in response["Location"]


def test_users_outside_staff_cannot_report(client):
    client.force_login(factories.UserFactory(username="contractor"))
    assert client.get(reverse("incidents:report")).status_code == 403


def test_my_reports_costs_the_same_queries_at_5_and_50(client, staff_user):
    client.force_login(staff_user)

    def cost():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("incidents:mine")).status_code == 200
        return len(ctx.captured_queries)

    for n in range(5):
        f.incident(staff_user, title=f"n{n}")
    at_5 = cost()
    for n in range(45):
        f.incident(staff_user, title=f"m{n}")
    assert cost() == at_5

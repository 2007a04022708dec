"""Each person reads and types times in their own zone; the page names it; the API keeps offsets."""

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from incidents.models import Incident
from tests import factories
from tests.incidents import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def berliner(client):
    person = factories.staff(username="berliner", first_name="Bea", last_name="Berlin")
    client.force_login(person)
    assert client.post(reverse("set-time-zone"), {"time_zone": "Europe/Berlin", "next": "/"}).status_code == 302
    return person


def test_a_report_typed_in_berlin_ten_minutes_ago_is_read_in_berlin(client, berliner):
    category = f.category()
    ten_minutes_ago = timezone.localtime(
        timezone.now() - datetime.timedelta(minutes=10), timezone=ZoneInfo("Europe/Berlin")
    )
    page = client.get(reverse("incidents:report")).content.decode()
    assert "In your time zone, Europe/Berlin." in page
    response = client.post(
        reverse("incidents:report"),
        {
            "title": "Laptop stolen",
            "description": "From the car",
            "occurred_at": ten_minutes_ago.strftime("%Y-%m-%dT%H:%M"),
            "category": category.pk,
            "impact": 3,
            "urgency": 3,
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    incident = Incident.objects.get(title="Laptop stolen")
    delta = timezone.now() - incident.occurred_at
    assert datetime.timedelta(minutes=9) < delta < datetime.timedelta(minutes=12)


def test_pages_name_the_zone_they_show(client, berliner, coordinator):
    assert "Times in Europe/Berlin" in client.get("/").content.decode()
    client.force_login(coordinator)
    admin_page = client.get(reverse("admin:index")).content.decode()
    assert "Times in UTC" in admin_page


def test_the_admin_reads_typed_times_in_the_coordinators_zone(client, coordinator):
    client.force_login(coordinator)
    client.post(reverse("set-time-zone"), {"time_zone": "America/New_York", "next": "/admin/"})
    incident = f.incident()
    page = client.get(reverse("admin:incidents_incident_change", args=[incident.pk]))
    shown = page.context["adminform"].form["occurred_at"].value()
    local = timezone.localtime(incident.occurred_at, timezone=ZoneInfo("America/New_York"))
    assert "Times in America/New_York" in page.content.decode()
    assert shown.replace(microsecond=0) == local.replace(microsecond=0)


def test_me_reports_and_sets_the_time_zone(api, settings):
    settings.TIME_ZONE = "UTC"
    person = factories.staff(username="zoned")
    client = api(person)
    assert client.get("/api/v1/me/").json()["time_zone"] == "UTC"
    response = client.patch("/api/v1/me/", {"time_zone": "Asia/Tokyo"}, format="json")
    assert response.status_code == 200 and response.json()["time_zone"] == "Asia/Tokyo"
    assert client.get("/api/v1/me/").json()["time_zone"] == "Asia/Tokyo"
    bad = client.patch("/api/v1/me/", {"time_zone": "Mars/Olympus"}, format="json")
    assert bad.status_code == 400 and "time_zone" in bad.json()
    assert person.profile.history.first().history_user == person


def test_the_api_keeps_iso_8601_with_an_offset(api, coordinator):
    incident = f.incident()
    api(coordinator).patch("/api/v1/me/", {"time_zone": "Europe/Berlin"}, format="json")
    body = api(coordinator).get(f"/api/v1/incidents/{incident.pk}/").json()
    parsed = datetime.datetime.fromisoformat(body["occurred_at"])
    assert parsed.utcoffset() is not None and parsed == incident.occurred_at


def test_the_self_service_page_offers_the_browsers_zone(client, berliner):
    page = client.get("/").content.decode()
    assert 'id="time-zone-offer"' in page and "Intl.DateTimeFormat" in page

"""Compliance reads everything and changes nothing, by any admin door, whatever else they are."""

import pytest
from django.contrib import admin
from django.urls import reverse

from incidents.models import Incident
from tests import factories
from tests.incidents import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["compliance only", "compliance and staff"])
def auditor(request):
    groups = ["Compliance"] if request.param == "compliance only" else ["Compliance", "Staff"]
    return factories.UserFactory(username="auditor", is_staff=True, groups=groups)


def test_no_admin_offers_compliance_add_change_or_delete(rf, auditor):
    request = rf.get("/admin/")
    request.user = auditor
    for model, model_admin in admin.site._registry.items():
        assert not model_admin.has_add_permission(request), model
        assert not model_admin.has_change_permission(request), model
        assert not model_admin.has_delete_permission(request), model


def test_the_admin_index_and_list_show_no_add_link(client, auditor):
    client.force_login(auditor)
    index = client.get(reverse("admin:index")).content.decode()
    assert reverse("admin:incidents_incident_add") not in index
    assert client.get(reverse("admin:incidents_incident_add")).status_code == 403


def test_a_change_post_is_refused(client, auditor):
    incident = f.incident(title="Original")
    client.force_login(auditor)
    url = reverse("admin:incidents_incident_change", args=[incident.pk])
    assert client.get(url).status_code == 200
    assert client.post(url, {"title": "Rewritten"}).status_code == 403
    assert Incident.objects.get(pk=incident.pk).title == "Original"


def test_compliance_and_staff_still_reports_on_the_self_service_site(client):
    person = factories.UserFactory(username="both", groups=["Compliance", "Staff"])
    category = f.category()
    client.force_login(person)
    response = client.post(
        reverse("incidents:report"),
        {
            "title": "Seen in the audit",
            "description": "A shared password",
            "occurred_at": "2026-01-05T10:00",
            "category": category.pk,
            "impact": 3,
            "urgency": 3,
        },
    )
    assert response.status_code == 302
    assert Incident.objects.filter(title="Seen in the audit", reporter=person).exists()


def test_a_superuser_in_compliance_keeps_every_right(rf):
    root = factories.UserFactory(username="root2", is_staff=True, is_superuser=True, groups=["Compliance"])
    request = rf.get("/admin/")
    request.user = root
    assert admin.site._registry[Incident].has_change_permission(request)

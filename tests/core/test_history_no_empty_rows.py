"""A save that changes nothing leaves no history row; a save that changes something leaves one."""

import pytest
from django.urls import reverse

from incidents.models import Category
from tests import factories
from tests.incidents import factories as f

pytestmark = pytest.mark.django_db


def test_a_patch_with_the_same_values_writes_no_history_row(api, coordinator):
    incident = f.incident(title="Same")
    before = incident.history.count()
    client = api(coordinator)
    response = client.patch(
        f"/api/v1/incidents/{incident.pk}/", {"title": "Same"}, format="json"
    )
    assert response.status_code == 200
    assert incident.history.count() == before
    client.patch(f"/api/v1/incidents/{incident.pk}/", {"title": "Other"}, format="json")
    assert incident.history.count() == before + 1


def test_an_admin_save_without_changes_writes_no_history_row(client, superuser):
    category = Category.objects.create(name="Fraud")
    before = category.history.count()
    client.force_login(superuser)
    url = reverse("admin:incidents_category_change", args=[category.pk])
    form = client.get(url).context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    assert client.post(url, data).status_code == 302
    assert category.history.count() == before
    data["name"] = "Fraud and theft"
    assert client.post(url, data).status_code == 302
    assert category.history.count() == before + 1


def test_signing_in_leaves_no_row_in_the_persons_history(client):
    person = factories.staff(username="daily")
    before = person.history.count()
    assert client.post("/accounts/login/", {"username": "daily", "password": "pw"}).status_code == 302
    assert person.history.count() == before

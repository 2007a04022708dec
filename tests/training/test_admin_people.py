"""People by name in the training admin: autocomplete choosers, names in lists, session ids shown."""

import pytest
from django.urls import reverse

from tests import factories
from tests.training.factories import actor, make_course, make_session
from training import services

pytestmark = pytest.mark.django_db


def test_record_and_session_pages_choose_people_by_autocomplete_not_by_id(client, coordinator):
    client.force_login(coordinator)
    for name in ("admin:training_record_add", "admin:training_session_add"):
        html = client.get(reverse(name)).content.decode()
        assert "admin-autocomplete" in html, name
        assert "vForeignKeyRawIdAdminField" not in html, name
    html = client.get(reverse("admin:training_course_compliance")).content.decode()
    assert "admin-autocomplete" in html and "user id" not in html


def test_lists_show_people_by_name_and_the_session_id_a_sheet_needs(client, coordinator):
    dana = factories.staff(username="dscully", first_name="Dana", last_name="Scully")
    session = make_session(make_course(), facilitator=dana)
    services.record_register(actor=actor(), user=dana, session=session)
    client.force_login(coordinator)
    records = client.get(reverse("admin:training_record_changelist")).content.decode()
    assert "Dana Scully (dscully)" in records
    sessions = client.get(reverse("admin:training_session_changelist")).content.decode()
    assert "Dana Scully (dscully)" in sessions
    assert f'<td class="field-id">{session.pk}</td>' in sessions


def test_the_record_autocomplete_shows_full_names(client, coordinator):
    factories.staff(username="dscully", first_name="Dana", last_name="Scully")
    client.force_login(coordinator)
    response = client.get(
        "/admin/autocomplete/",
        {"app_label": "training", "model_name": "record", "field_name": "user", "term": "scul"},
    )
    assert response.status_code == 200
    assert [r["text"] for r in response.json()["results"]] == ["Dana Scully (dscully)"]

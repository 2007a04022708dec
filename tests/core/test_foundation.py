"""The foundation: roles, /me, token auth, schema and docs, the self-service shell."""

import os

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.test import override_settings
from django.urls import reverse

from core.roles import ROLE_NAMES
from tests import factories

pytestmark = pytest.mark.django_db


def test_migrations_create_the_four_roles():
    assert set(Group.objects.values_list("name", flat=True)) >= set(ROLE_NAMES)


def test_compliance_can_view_but_change_nothing():
    perms = Group.objects.get(name="Compliance").permissions.values_list("codename", flat=True)
    assert "view_history" in perms
    assert not [p for p in perms if p.startswith(("add_", "change_", "delete_"))]


def test_me_returns_the_requesting_user(api, coordinator):
    coordinator.first_name, coordinator.last_name = "Casey", "Jones"
    coordinator.save()
    response = api(coordinator).get("/api/v1/me/")
    assert response.status_code == 200
    assert response.json() == {
        "id": coordinator.pk,
        "username": "coord",
        "full_name": "Casey Jones",
        "groups": ["Coordinators", "Staff"],
        "time_zone": "UTC",
    }


def test_anonymous_gets_no_data(api):
    assert api().get("/api/v1/me/").status_code in (401, 403)


def test_token_sign_in_then_token_auth(client):
    user = factories.staff(username="tok")
    response = client.post(
        "/api/v1/auth/token/",
        {"username": "tok", "password": "pw"},
        content_type="application/json",
    )
    assert response.status_code == 200
    token = response.json()["token"]
    me = client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {token}")
    assert me.status_code == 200 and me.json()["id"] == user.pk


def test_token_refused_for_wrong_password(client):
    factories.staff(username="tok")
    response = client.post(
        "/api/v1/auth/token/",
        {"username": "tok", "password": "nope"},
        content_type="application/json",
    )
    assert response.status_code == 400


def test_schema_and_docs_are_served_without_a_cdn(client, staff_user):
    client.force_login(staff_user)
    schema = client.get("/api/v1/schema/")
    assert schema.status_code == 200
    assert b"openapi" in schema.content
    docs = client.get("/api/v1/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "swagger-ui" in html
    assert "cdn" not in html.lower() and "//unpkg" not in html


def test_home_requires_sign_in(client):
    response = client.get("/")
    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_home_greets_signed_in_staff(client, staff_user):
    client.force_login(staff_user)
    response = client.get("/")
    assert response.status_code == 200
    assert staff_user.first_name in response.content.decode()


def test_group_membership_changes_are_audited(superuser):
    user = factories.staff(username="moved")
    user._history_user = superuser
    user.groups.add(Group.objects.get(name="Compliance"))
    latest = user.history.first()
    assert {g.group.name for g in latest.groups.all()} == {"Staff", "Compliance"}


@override_settings(DEBUG=False)
def test_demo_refuses_to_run_without_debug():
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError):
        call_command("demo")


def test_demo_is_idempotent_and_creates_the_four_sign_ins(settings):
    from io import StringIO

    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    settings.DEBUG = True
    call_command("demo", stdout=StringIO())
    call_command("demo", stdout=StringIO())
    User = get_user_model()
    for name, group in [
        ("coordinator", "Coordinators"),
        ("approver", "Plan approvers"),
        ("compliance", "Compliance"),
        ("staff", "Staff"),
    ]:
        user = User.objects.get(username=name)
        assert user.check_password("demo")
        assert user.groups.filter(name=group).exists()


def test_unmatched_api_paths_answer_json_404(client, staff_user, settings):
    settings.DEBUG = False
    client.force_login(staff_user)
    response = client.get("/api/v1/no-such-thing/1.5/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_openapi_schema_is_valid_and_generates_without_warnings(tmp_path):
    """A warning here (e.g. two `status` enums colliding) also fails `check --deploy` in CI.

    In a fresh process: drf-spectacular reports some problems (ENUM_NAME_OVERRIDES
    duplicates) only once per process, and this one has generated the schema already.
    """
    import subprocess
    import sys

    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "spectacular",
            "--validate",
            "--fail-on-warn",
            "--file",
            str(tmp_path / "schema.yml"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"},
        cwd=settings.BASE_DIR,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Warning" not in result.stderr and "Error" not in result.stderr, result.stderr[-2000:]


def test_every_model_of_our_apps_keeps_history():
    from django.apps import apps
    from simple_history.models import registered_models

    ours = [
        model
        for label in ("core", "plans", "incidents", "training")
        for model in apps.get_app_config(label).get_models()
        if model._meta.managed and not model.__name__.startswith("Historical")
    ]
    assert len(ours) > 25
    missing = [m.__name__ for m in ours if m not in registered_models.values()]
    assert missing == []


@pytest.mark.django_db
def test_admin_row_checkbox_is_djangos_markup(coordinator):
    """AuditedAdmin renders the changelist's row checkbox itself (speed): same HTML as Django."""
    from django.contrib import admin as django_admin
    from django.contrib.admin import ModelAdmin

    from incidents.models import Incident
    from tests.incidents import factories as incident_factories

    incident = incident_factories.incident(title='Quotes " & <tags>')
    ours = django_admin.site._registry[Incident]
    assert ours.action_checkbox(incident) == ModelAdmin.action_checkbox(ours, incident)
    assert 'aria-label="Select this object for an action - INC-' in ours.action_checkbox(incident)

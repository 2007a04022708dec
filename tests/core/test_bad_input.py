"""Bad input is a 400 (or a 404, or a message on the page), never a 500.

The attack run found: JSON nested 100,000 deep (RecursionError), NUL characters (PostgreSQL
refuses them inside the driver), digits that are not ASCII ("²".isdigit() is true, int("²")
fails) and a token-endpoint username longer than the lockout's attempt record holds. These run
on SQLite and PostgreSQL alike.
"""

import pytest
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from core.roles import STAFF
from incidents.models import Escalation, Incident
from plans.models import Plan
from tests import factories
from tests.incidents.factories import incident as make_incident
from tests.incidents.factories import targets
from tests.plans.factories import draft_of, make_plan, published_plan
from tests.training.factories import make_course, make_session, people
from training.models import Course, Record

pytestmark = pytest.mark.django_db

DEEP = "[" * 100_000


def api_as(user=None):
    client = APIClient(raise_request_exception=False)
    if user is not None:
        client.force_authenticate(user)
    return client


def page_as(user):
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


@pytest.fixture
def world(db):
    targets()
    coordinator = factories.coordinator(username="coord")
    plan, version, author, approver = published_plan()
    course = make_course()
    incident = make_incident(factories.staff(username="rep"))
    return {
        "coordinator": coordinator,
        "plan": plan,
        "version": version,
        "draft": draft_of(make_plan(code="DRF", author=coordinator)),
        "course": course,
        "incident": incident,
    }


def _writes(world):
    """(method, path) of writes across the three apps."""
    draft = world["draft"]
    return [
        ("post", "/api/v1/incidents/"),
        ("patch", f"/api/v1/incidents/{world['incident'].pk}/"),
        ("post", f"/api/v1/incidents/{world['incident'].pk}/escalations/"),
        ("post", "/api/v1/plans/"),
        ("patch", f"/api/v1/plans/{world['plan'].pk}/"),
        ("patch", f"/api/v1/plan-versions/{draft.pk}/sections/{draft.sections.first().key}/"),
        ("post", f"/api/v1/plan-versions/{world['version'].pk}/acknowledge/"),
        ("post", "/api/v1/training/courses/"),
        ("patch", f"/api/v1/training/courses/{world['course'].pk}/"),
    ]


# --- Item 6: deep JSON --------------------------------------------------------------------


def test_deeply_nested_json_is_a_400_on_every_write(world):
    client = api_as(world["coordinator"])
    for method, path in _writes(world):
        response = getattr(client, method)(path, data=DEEP, content_type="application/json")
        assert response.status_code == 400, (method, path)
        assert "nested deeper" in response.json()["detail"], (method, path)


def test_deeply_nested_json_on_the_token_endpoint_is_a_400():
    response = api_as().post("/api/v1/auth/token/", data=DEEP, content_type="application/json")
    assert response.status_code == 400
    assert "nested deeper" in response.json()["detail"]


def test_json_nested_past_the_limit_but_parseable_is_a_400(world):
    body = '{"title": ' + "[" * 40 + "]" * 40 + "}"
    response = api_as(world["coordinator"]).post(
        "/api/v1/training/courses/", data=body, content_type="application/json"
    )
    assert response.status_code == 400
    assert "nested deeper than 32 levels" in response.json()["detail"]


# --- Item 7: NUL ---------------------------------------------------------------------------


def _assert_nul_refused(response):
    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]


def test_nul_in_a_list_of_group_names_is_a_400_and_creates_nothing(world):
    client = api_as(world["coordinator"])
    course = {"title": "Drill", "kind": "awareness", "validity_days": 30}
    _assert_nul_refused(
        client.post("/api/v1/training/courses/", {**course, "required_for": [STAFF, "\x00"]})
    )
    _assert_nul_refused(
        client.patch(f"/api/v1/training/courses/{world['course'].pk}/", {"required_for": ["a\x00"]})
    )
    _assert_nul_refused(
        client.post("/api/v1/plans/", {"code": "NUL", "title": "T", "audience": ["\x00"]})
    )
    _assert_nul_refused(
        client.post(
            f"/api/v1/incidents/{world['incident'].pk}/escalations/",
            {"to_group": "\x00", "reason": "r"},
        )
    )
    assert not Course.objects.filter(title="Drill").exists()
    assert not Plan.objects.filter(code="NUL").exists()
    assert not Escalation.objects.exists()
    assert list(world["course"].required_for.values_list("name", flat=True)) == [STAFF]


def test_nul_in_a_json_key_or_a_nested_string_is_a_400(world):
    client = api_as(world["coordinator"])
    _assert_nul_refused(
        client.post("/api/v1/training/courses/", {"title": "T", "x\x00": 1}, format="json")
    )
    _assert_nul_refused(
        client.patch(f"/api/v1/incidents/{world['incident'].pk}/", {"title": "a\x00b"})
    )


def test_nul_in_a_form_encoded_api_body_is_a_400(world):
    client = api_as(world["coordinator"])
    for method in ("post", "patch"):
        response = getattr(client, method)(
            "/api/v1/training/courses/"
            if method == "post"
            else f"/api/v1/training/courses/{world['course'].pk}/",
            data="title=a%00b&kind=awareness",
            content_type="application/x-www-form-urlencoded",
        )
        _assert_nul_refused(response)
    world["course"].refresh_from_db()
    assert world["course"].title == "Awareness"


def test_nul_in_an_api_path_or_query_string_is_a_400(world):
    client = api_as(world["coordinator"])
    version = world["version"]
    for path in (
        f"/api/v1/plan-versions/{version.pk}/sections/%00/",
        "/api/v1/incidents/?search=%00",
        "/api/v1/incidents/?status=%00",
        "/api/v1/plan-change-requests/?search=%00",
        "/api/v1/training/compliance/?group=%00",
        "/api/v1/training/courses/?search=a%00",
        "/api/v1/incidents/?x%00=1",
    ):
        response = client.get(path)
        assert response.status_code == 400, path
        assert response.json()["code"] == "invalid", path


def test_nul_in_any_admin_changelist_search_filter_or_autocomplete_is_a_400(world, superuser):
    client = page_as(superuser)
    paths = []
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        paths += [f"{changelist}?q=%00", f"{changelist}?id__exact=%00"]
        for name in model_admin.autocomplete_fields:
            paths.append(
                f"/admin/autocomplete/?term=%00&app_label={opts.app_label}"
                f"&model_name={opts.model_name}&field_name={name}"
            )
    assert len(paths) > 30
    answers = {path: client.get(path) for path in paths}
    assert {path: r.status_code for path, r in answers.items() if r.status_code != 400} == {}
    some = next(iter(answers.values()))
    assert some["Content-Type"].startswith("text/plain") and b"NUL" in some.content


def test_nul_in_a_posted_form_is_a_400(world):
    response = Client(raise_request_exception=False).post(
        "/accounts/login/", {"username": "coord\x00", "password": "pw"}
    )
    assert response.status_code == 400
    client = page_as(world["coordinator"])
    response = client.post(
        "/incidents/report/", {"title": "Broken\x00", "description": "d", "impact": 3}
    )
    assert response.status_code == 400
    assert not Incident.objects.filter(title__startswith="Broken").exists()


# --- Item 8: digits that are not ASCII ------------------------------------------------------


@pytest.mark.parametrize("against", ["²", "٣", "1" * 25, "-1", "0x1"])
def test_diff_against_a_bad_id_is_a_400(world, against):
    response = api_as(world["coordinator"]).get(
        f"/api/v1/plan-versions/{world['version'].pk}/diff/", {"against": against}
    )
    assert response.status_code == 400
    assert "against" in response.json()


@pytest.mark.parametrize("plan", ["²", "٣", "9" * 30])
def test_admin_compare_with_a_bad_plan_id_is_a_404(world, superuser, plan):
    response = page_as(superuser).get("/admin/plans/planversion/compare/", {"plan": plan})
    assert response.status_code == 404


@pytest.mark.parametrize("selected", ["²", "٣", "9" * 30, "abc"])
def test_an_admin_action_on_a_bad_selected_id_changes_nothing_and_says_so(
    world, superuser, selected
):
    client = page_as(superuser)
    response = client.post(
        "/admin/incidents/incident/",
        {"action": "transition_selected", "_selected_action": [selected], "index": "0"},
        follow=True,
    )
    assert response.status_code == 200
    assert b"Items must be selected in order to perform actions" in response.content


def test_an_admin_action_keeps_the_good_ids_of_a_mixed_selection(world, superuser):
    incident = world["incident"]
    response = page_as(superuser).post(
        "/admin/incidents/incident/",
        {"action": "transition_selected", "_selected_action": ["²", str(incident.pk)]},
    )
    assert response.status_code == 200
    assert list(response.context["queryset"]) == [incident]


@pytest.mark.parametrize(
    "path",
    [
        "/admin/incidents/postincidentreview/add/?incident=²",
        "/admin/incidents/action/add/?incident=abc",
        "/admin/incidents/incident/add/?category=²",
        "/admin/plans/plan/add/?owner=٣x&audience=1,²",
        "/admin/training/session/add/?course=" + "9" * 30,
    ],
)
def test_an_admin_add_form_ignores_an_initial_value_that_is_no_id(world, superuser, path):
    response = page_as(superuser).get(path)
    assert response.status_code == 200


@pytest.mark.parametrize(
    "session_text, score", [("²", "1"), ("{session}", "²"), ("{session}", "٣")]
)
def test_an_attendance_sheet_with_non_ascii_digits_names_the_bad_cells(
    client, coordinator, session_text, score
):
    course = make_course(validity_days=90)
    session = make_session(course)
    (person,) = people(1)
    text = (
        "username,session,status,completed_at,score\n"
        f"{person.username},{session_text.format(session=session.pk)},completed,,{score}\n"
    )
    client.force_login(coordinator)
    response = client.post(
        "/admin/training/record/import/",
        {"sheet": SimpleUploadedFile("s.csv", text.encode(), "text/csv")},
    )
    assert response.status_code == 200
    assert b"Import these" not in response.content
    assert b"unknown session" in response.content or b"bad score" in response.content
    assert not Record.objects.exists()


# --- Item 9: a username longer than the sign-in records hold --------------------------------


def test_a_token_request_with_an_overlong_username_is_a_400_naming_the_field(db):
    response = api_as().post(
        "/api/v1/auth/token/", {"username": "u" * 300, "password": "x"}, format="json"
    )
    assert response.status_code == 400
    assert "username" in response.json()


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
def test_a_sign_in_form_with_an_overlong_username_is_refused_on_the_page(db, path):
    client = Client(raise_request_exception=False)
    response = client.post(path, {"username": "u" * 300, "password": "x"})
    assert response.status_code == 200  # the form again, with its error
    assert "_auth_user_id" not in client.session


# --- NUL where no form field carries it: cookies, headers, uploaded sheets ------------------


def test_a_cookie_holding_a_nul_is_treated_as_never_sent(world):
    client = Client(raise_request_exception=False)
    client.cookies["sessionid"] = "abcdefghij\x00klmnopqrstu"
    assert client.get("/accounts/login/").status_code == 200
    assert client.get("/api/v1/me/").status_code in (401, 403)
    assert client.get("/admin/").status_code == 302


def test_a_header_holding_a_nul_is_a_400(world):
    client = Client(raise_request_exception=False)
    assert client.get("/api/v1/me/", HTTP_AUTHORIZATION="Token abc\x00def").status_code == 400
    member = factories.staff(username="ua", first_name="Una", last_name="Agent")
    version = world["version"]
    response = api_as(member).post(
        f"/api/v1/plan-versions/{version.pk}/acknowledge/",
        {"password": "pw", "full_name": "Una Agent", "content_hash": version.content_hash},
        format="json",
        HTTP_USER_AGENT="Phone\x00Browser",
    )
    assert response.status_code == 400
    assert not version.acknowledgements.filter(user=member).exists()


def test_an_attendance_sheet_holding_a_nul_is_refused_in_words(world):
    session = make_session(make_course(title="NUL drill"))
    client = page_as(world["coordinator"])
    sheet = SimpleUploadedFile(
        "a\x00.csv",
        f"username,session,status\nst\x00aff,{session.pk},completed\n".encode(),
        "text/csv",
    )
    response = client.post("/admin/training/record/import/", {"sheet": sheet})
    assert response.status_code == 200
    assert "NUL character" in response.content.decode()
    assert not Record.objects.filter(session=session).exists()


def test_a_body_without_a_content_type_is_a_documented_415_and_changes_nothing(world):
    from drf_spectacular.generators import SchemaGenerator

    member = factories.staff(username="zoned")
    response = api_as(member).generic("PATCH", "/api/v1/me/", b"time_zone=Europe/Paris", "")
    assert response.status_code == 415
    assert "media type" in response.json()["detail"]
    member.refresh_from_db()
    assert api_as(member).get("/api/v1/me/").json()["time_zone"] != "Europe/Paris"
    # Clients (and the fuzzer) may rely on the schema: every operation with a body documents it.
    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    assert "415" in paths["/api/v1/me/"]["patch"]["responses"]
    assert "415" not in paths["/api/v1/me/"]["get"]["responses"]

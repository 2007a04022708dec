"""A report needs only what a reporter knows: unclassified reports, triage, and the categories list."""

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from incidents import services
from incidents.models import Category, Incident, MessageTemplate
from tests import factories
from tests.incidents import factories as f
from tests.plans.factories import published_plan

pytestmark = pytest.mark.django_db

UNCLASSIFIED = "Unclassified (awaiting triage)"


def bare_report(**overrides):
    """What a reporter knows: what, and when."""
    return {
        "title": "Strange email",
        "description": "It asked for my password.",
        "occurred_at": (timezone.now() - datetime.timedelta(hours=1)).isoformat(),
        **overrides,
    }


def test_an_api_report_without_category_is_201_unclassified_with_default_impact_and_urgency(
    api, staff_user, coordinator
):
    response = api(staff_user).post("/api/v1/incidents/", bare_report(), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["category"] is None and body["category_name"] is None
    assert (body["impact"], body["urgency"], body["priority"]) == (3, 3, "P3")
    assert body["status"] == "reported"
    incident = Incident.objects.get(pk=body["id"])
    assert incident.category is None and incident.plan_version is None
    assert incident.history.first().history_change_reason == "Reported"

    # The coordinators see it waiting: in the list, its detail and the `category=null` filter.
    client = api(coordinator)
    [row] = client.get("/api/v1/incidents/").json()["results"]
    assert (row["id"], row["category"], row["category_name"]) == (incident.pk, None, None)
    assert client.get(f"/api/v1/incidents/{incident.pk}/").json()["category"] is None
    f.incident(title="Classified one")
    waiting = client.get("/api/v1/incidents/?category=null").json()
    assert [r["id"] for r in waiting["results"]] == [incident.pk]


def test_an_api_report_with_a_category_works_as_before(api, staff_user):
    plan, version, _, _ = published_plan(code="IRP")
    category = f.category("Phishing", plan=plan)
    response = api(staff_user).post(
        "/api/v1/incidents/", bare_report(category=category.pk, impact=1), format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["category"], body["category_name"], body["priority"]) == (
        category.pk,
        "Phishing",
        "P2",
    )
    assert Incident.objects.get(pk=body["id"]).plan_version == version


def test_an_unclassified_report_is_classified_before_triage_and_then_gets_its_plan_version(
    api, coordinator
):
    plan, version, _, _ = published_plan(code="IRP")
    incident = f.incident(category=None)
    client = api(coordinator)
    refused = client.post(
        f"/api/v1/incidents/{incident.pk}/transition/", {"status": "triaged"}, format="json"
    )
    assert refused.status_code == 409
    assert "Classify the incident" in refused.json()["detail"]
    assert Incident.objects.get(pk=incident.pk).status == "reported"

    category = f.category("Phishing", plan=plan)
    patched = client.patch(
        f"/api/v1/incidents/{incident.pk}/", {"category": category.pk}, format="json"
    )
    assert patched.status_code == 200, patched.json()
    assert patched.json()["category"] == category.pk
    assert patched.json()["plan_version"] == version.pk
    moved = client.post(
        f"/api/v1/incidents/{incident.pk}/transition/", {"status": "triaged"}, format="json"
    )
    assert moved.status_code == 200

    # Past triage it keeps a kind: clearing it is refused on the field.
    cleared = client.patch(f"/api/v1/incidents/{incident.pk}/", {"category": None}, format="json")
    assert cleared.status_code == 400 and "category" in cleared.json()
    assert Incident.objects.get(pk=incident.pk).category == category


def test_an_unclassified_report_may_be_cancelled_before_triage(coordinator):
    incident = f.incident(category=None)
    cancelled = services.incident_transition(
        incident=incident, actor=coordinator, status="cancelled", reason="Not an incident"
    )
    assert cancelled.status == "cancelled" and cancelled.category is None


def test_the_admin_list_shows_unclassified_reports_and_filters_them(client, coordinator):
    waiting = f.incident(category=None, title="Waiting for triage")
    f.incident(title="Already classified")
    client.force_login(coordinator)
    url = reverse("admin:incidents_incident_changelist")
    page = client.get(url).content.decode()
    assert UNCLASSIFIED in page  # the row's category column, and the filter's choice
    assert "?category__isnull=True" in page
    filtered = client.get(url, {"category__isnull": "True"})
    assert [row.pk for row in filtered.context["cl"].result_list] == [waiting.pk]


def test_my_reports_and_its_page_say_the_report_awaits_triage(client, staff_user):
    incident = f.incident(staff_user, category=None)
    client.force_login(staff_user)
    assert UNCLASSIFIED in client.get(reverse("incidents:mine")).content.decode()
    detail = client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    assert "Unclassified: the response team will decide" in detail and "None" not in detail


def test_the_self_service_form_offers_the_kind_but_does_not_require_it(client, staff_user):
    f.category("Phishing")
    client.force_login(staff_user)
    form = client.get(reverse("incidents:report")).content.decode()
    assert "Phishing" in form and "I don&#x27;t know" in form
    response = client.post(
        reverse("incidents:report"),
        {
            "title": "Strange email",
            "description": "It asked for my password.",
            "occurred_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
            "impact": 3,
            "urgency": 3,
        },
    )
    assert response.status_code == 302
    assert Incident.objects.get().category is None


def test_the_dashboard_and_the_metrics_count_unclassified_reports(api, client, coordinator):
    f.incident(category=None)
    f.incident(category=None)
    f.incident()
    gone = f.incident(category=None)
    services.incident_transition(
        incident=gone, actor=coordinator, status="cancelled", reason="Duplicate"
    )
    metrics = api(coordinator).get("/api/v1/metrics/incidents/").json()
    assert metrics["unclassified"] == 2  # waiting for triage; the cancelled one is not
    by_category = {row["category"]: row["count"] for row in metrics["by_category"]}
    assert by_category == {None: 3, "Security": 1}

    client.force_login(coordinator)
    page = client.get(reverse("admin:incidents_incident_dashboard")).content.decode()
    tile = re.search(r'id="kpi-unclassified"><a href="([^"]*)">Unclassified<strong>(\d+)</strong>', page)
    assert tile and tile.group(2) == "2"
    assert "category__isnull=True" in tile.group(1) and "open=yes" in tile.group(1)
    assert ">Unclassified</a></th>" in page  # its row of the by-category table


def test_templates_and_reviews_of_an_unclassified_incident_work(coordinator):
    incident = f.incident(category=None)
    template = MessageTemplate.objects.create(
        name="Update", subject="{reference}", body="Kind: {category}."
    )
    rendered = services.communication_render(
        incident=incident, actor=coordinator, template=template, audience="a@example.org"
    )
    assert rendered.body == "Kind: unclassified."
    services.review_save(
        incident=incident,
        actor=coordinator,
        summary="s",
        root_cause="r",
        lessons_learned="l",
        plan_change_needed=True,
        plan_change_description="Say who triages.",
    )
    review = services.review_complete(incident=incident, actor=coordinator)
    assert review.status == "completed" and review.plan_change_request is None


# -- GET /api/v1/categories/ ----------------------------------------------------------------


def test_anyone_signed_in_lists_the_active_categories_with_id_name_and_plan(api, staff_user):
    plan, _, _, _ = published_plan(code="IRP")
    phishing = f.category("Phishing", plan=plan)
    outage = f.category("Outage")
    Category.objects.create(name="Retired", active=False)
    response = api(staff_user).get("/api/v1/categories/")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2 and body["next"] is None and body["previous"] is None
    assert body["results"] == [
        {"id": outage.pk, "name": "Outage", "plan": None},
        {"id": phishing.pk, "name": "Phishing", "plan": plan.pk},
    ]
    detail = api(staff_user).get(f"/api/v1/categories/{phishing.pk}/")
    assert detail.json() == {"id": phishing.pk, "name": "Phishing", "plan": plan.pk}
    assert detail.has_header("ETag")


def test_the_categories_list_is_paginated_read_only_and_closed_to_anonymous_clients(
    api, staff_user
):
    for n in range(3):
        f.category(f"Kind {n}")
    client = api(staff_user)
    page = client.get("/api/v1/categories/?page_size=2").json()
    assert page["count"] == 3 and len(page["results"]) == 2 and page["next"]
    assert client.post("/api/v1/categories/", {"name": "New"}, format="json").status_code == 405
    assert client.delete(f"/api/v1/categories/{Category.objects.first().pk}/").status_code == 405
    assert api().get("/api/v1/categories/").status_code in (401, 403)
    assert "/api/v1/categories/" in api(staff_user).get("/api/v1/schema/").content.decode()


@pytest.mark.parametrize("rows", [3, 30])
def test_the_categories_list_costs_the_same_queries_at_3_and_30(
    api, rows, django_assert_num_queries
):
    plan, _, _, _ = published_plan(code="IRP")
    for n in range(rows):
        f.category(f"Kind {n:02d}", plan=plan if n % 2 else None)
    client = api(factories.staff(username="reader"))
    with django_assert_num_queries(2):  # count + page
        response = client.get("/api/v1/categories/?page_size=100")
    assert len(response.json()["results"]) == rows

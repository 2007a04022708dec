"""Compliance per published version: counts, names, overdue, CSV, and a fixed number of queries."""

import csv
import datetime
import io

import pytest
from django.urls import reverse

from plans import queries, services
from tests import factories
from tests.plans.factories import published_plan
from tests.signing import signer_proof

pytestmark = pytest.mark.django_db


def audience_of(size, prefix):
    return [
        factories.staff(username=f"{prefix}{i}", first_name="Member", last_name=f"{prefix}{i:03}")
        for i in range(size)
    ]


def setup_version(size, code="CMP"):
    people = audience_of(size, code.lower())
    plan, version, author, approver = published_plan(code=code, audience=("Staff",))
    for person in people[: size // 2]:
        services.acknowledgement_create(
            version=version,
            actor=person,
            proof=signer_proof(person),
            full_name=person.get_full_name(),
            content_hash=version.content_hash,
        )
    return version, people


def test_summary_counts_audience_acknowledged_outstanding():
    version, people = setup_version(6)
    summary = queries.compliance_summary(version)
    # the audience is the Staff group: the six members plus the plan's author and approver
    assert summary["audience"] == 8
    assert summary["acknowledged"] == 3
    assert summary["outstanding"] == 5
    assert summary["overdue"] == 0
    names = [u.username for u in queries.outstanding_users(version)]
    assert set(names) >= {p.username for p in people[3:]}
    assert not set(names) & {p.username for p in people[:3]}


def test_outstanding_become_overdue_after_the_grace_period():
    version, _ = setup_version(4)
    later = version.published_at + datetime.timedelta(days=version.plan.acknowledgement_days)
    assert queries.compliance_summary(version, now=later)["overdue"] == 0
    after = later + datetime.timedelta(seconds=1)
    summary = queries.compliance_summary(version, now=after)
    assert summary["overdue"] == summary["outstanding"] == 4


def test_people_leaving_the_audience_drop_out_of_the_counts():
    version, people = setup_version(4)
    people[0].groups.clear()  # acknowledged, then left the audience
    people[3].is_active = False
    people[3].save()
    summary = queries.compliance_summary(version)
    assert summary["audience"] == 4 and summary["acknowledged"] == 1


@pytest.mark.parametrize("size", [5, 50])
def test_compliance_endpoint_costs_the_same_queries_at_any_audience_size(
    size, api, compliance_user, django_assert_num_queries
):
    version, _ = setup_version(size, code=f"Q{size}")
    client = api(compliance_user)
    # session-less client: auth perms (2) + version (1) + reviews/sections prefetch (2) + summary (1) + names (1)
    with django_assert_num_queries(7):
        response = client.get(f"/api/v1/plan-versions/{version.pk}/compliance/")
    assert response.status_code == 200
    body = response.json()
    assert body["acknowledged"] == size // 2
    assert len(body["outstanding_users"]) == body["outstanding"]


def test_compliance_endpoint_is_for_compliance_and_coordinators(api, staff_user, coordinator):
    version, _ = setup_version(2)
    url = f"/api/v1/plan-versions/{version.pk}/compliance/"
    assert api(staff_user).get(url).status_code == 403
    assert api(coordinator).get(url).status_code == 200
    assert api().get(url).status_code in (401, 403)
    assert api(coordinator).get("/api/v1/plan-versions/999999/compliance/").status_code == 404


@pytest.mark.parametrize("size", [5, 50])
def test_admin_compliance_page_costs_the_same_queries(
    size, client, compliance_user, django_assert_max_num_queries
):
    version, _ = setup_version(size, code=f"A{size}")
    client.force_login(compliance_user)
    url = reverse("admin:plans_planversion_compliance", args=[version.pk])
    with django_assert_max_num_queries(12):
        response = client.get(url + "?show=all")
    assert response.status_code == 200
    assert b"Outstanding" in response.content


def test_admin_compliance_page_query_count_does_not_grow(client, compliance_user):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for size, code in ((5, "G5"), (50, "G50")):
        version, _ = setup_version(size, code=code)
        client.force_login(compliance_user)
        url = reverse("admin:plans_planversion_compliance", args=[version.pk])
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url + "?show=all").status_code == 200
        counts.append(len(ctx))
    assert counts[0] == counts[1]


def test_csv_export_streams_every_audience_member_with_state(client, compliance_user):
    version, people = setup_version(4)
    client.force_login(compliance_user)
    url = reverse("admin:plans_planversion_compliance_csv", args=[version.pk])
    # A zero-day grace period: everyone outstanding is overdue at once.
    services.plan_update(plan=version.plan, actor=version.plan.owner, acknowledgement_days=0)
    response = client.get(url)
    assert response.status_code == 200 and response.streaming
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    by_user = {row["username"]: row for row in rows}
    assert by_user[people[0].username]["state"] == "acknowledged"
    assert by_user[people[0].username]["acknowledged_at"]
    assert by_user[people[3].username]["state"] == "overdue"
    assert len(rows) == queries.compliance_summary(version)["audience"]


def test_staff_cannot_export_compliance(client):
    version, _ = setup_version(2)
    admin_staff = factories.UserFactory(username="adm", is_staff=True, groups=["Staff"])
    client.force_login(admin_staff)
    url = reverse("admin:plans_planversion_compliance_csv", args=[version.pk])
    assert client.get(url).status_code == 403


def test_approvers_and_staff_do_not_get_the_compliance_report(api, approver, staff_user):
    version, _ = setup_version(2, code="RP")
    url = f"/api/v1/plan-versions/{version.pk}/compliance/"
    assert api(approver).get(url).status_code == 403
    assert api(staff_user).get(url).status_code == 403
    assert api(approver).get("/api/v1/acknowledgements/").json()["count"] == 0


def test_roles_grant_what_the_brief_says():
    from django.contrib.auth.models import Group

    def perms(name):
        return set(
            Group.objects.get(name=name)
            .permissions.filter(content_type__app_label="plans")
            .values_list("codename", flat=True)
        )

    assert {"approve_planversion", "publish_planversion"} <= perms("Plan approvers")
    assert not {"approve_planversion", "publish_planversion"} & perms("Coordinators")
    assert {"add_plan", "change_plan", "add_planversion", "change_section"} <= perms("Coordinators")
    # Compliance only reads (read_confidential_source: a restated change request's history).
    assert all(p.startswith(("view_", "read_")) for p in perms("Compliance"))
    assert perms("Staff") == {
        "view_plan",
        "view_planversion",
        "view_section",
        "view_acknowledgement",
        # Their own electronic signatures (the receipt of what they signed, and how).
        "view_signature",
        "add_acknowledgement",
    }

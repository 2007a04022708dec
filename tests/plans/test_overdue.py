"""One definition of an overdue acknowledgement, the same on every page, export and endpoint."""

import csv
import io

import pytest
from django.urls import reverse

from plans import queries, services
from tests import factories
from tests.plans.factories import fill, publish, published_plan

pytestmark = pytest.mark.django_db


def _csv_states(client, version):
    url = reverse("admin:plans_planversion_compliance_csv", args=[version.pk])
    body = b"".join(client.get(url).streaming_content).decode()
    return {row["username"]: row["state"] for row in csv.DictReader(io.StringIO(body))}


def test_every_face_agrees_on_overdue_and_a_superseded_version_is_owed_by_nobody(
    client, api, compliance_user, approver
):
    plan, v1, author, _ = published_plan(approver=approver, code="OD", acknowledgement_days=0)
    factories.staff(username="late")
    client.force_login(compliance_user)

    assert v1.acknowledgement_overdue
    summary = queries.compliance_summary(v1)
    assert summary["outstanding"] > 0 and summary["overdue"] == summary["outstanding"]
    assert _csv_states(client, v1)["late"] == "overdue"
    body = api(compliance_user).get(f"/api/v1/plan-versions/{v1.pk}/compliance/").json()
    assert body["overdue"] == summary["overdue"]

    v2 = fill(services.version_create_draft(plan=plan, actor=author), author, text="Newer")
    publish(v2, author=author, approver=approver)
    v1.refresh_from_db()
    assert v1.status == v1.Status.SUPERSEDED
    assert not v1.acknowledgement_overdue
    assert queries.compliance_summary(v1)["overdue"] == 0
    assert _csv_states(client, v1)["late"] == "outstanding"
    body = api(compliance_user).get(f"/api/v1/plan-versions/{v1.pk}/compliance/").json()
    assert body["overdue"] == 0


def test_a_grace_period_in_the_future_is_not_called_ended(client, compliance_user, approver):
    _, version, _, _ = published_plan(approver=approver, code="GP", acknowledgement_days=14)
    factories.staff(username="pending")
    client.force_login(compliance_user)
    page = client.get(reverse("admin:plans_planversion_compliance", args=[version.pk]))
    text = page.content.decode()
    assert "grace period ends" in text and "grace period ended" not in text

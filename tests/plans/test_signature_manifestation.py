"""21 CFR 11.50: a signature shows the signer's printed name, the date and time with the zone, and its meaning."""

import pytest
from django.urls import reverse

from plans import services
from tests import factories
from tests.plans.factories import published_plan
from tests.signing import signer_proof

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed(approver):
    _, version, _, _ = published_plan(approver=approver, code="SIG")
    signer = factories.staff(username="sam", first_name="Samantha", last_name="Okafor")
    acknowledgement, _ = services.acknowledgement_create(
        version=version,
        actor=signer,
        proof=signer_proof(signer),
        full_name="samantha  OKAFOR",
        content_hash=version.content_hash,
    )
    return acknowledgement


def test_the_receipt_shows_printed_name_typed_name_time_zone_and_meaning(client, signed):
    client.force_login(signed.user)
    client.post(reverse("set-time-zone"), {"time_zone": "Europe/Berlin", "next": "/"})
    page = client.get(reverse("plans:receipt", args=[signed.pk])).content.decode()
    assert "Samantha Okafor" in page
    assert "samantha OKAFOR" in page
    assert "Acknowledged:" in page and signed.statement in page
    assert "(Europe/Berlin)" in page


def test_the_compliance_page_and_csv_show_the_signature(client, compliance_user, signed):
    import csv
    import io

    client.force_login(compliance_user)
    page = client.get(
        reverse("admin:plans_planversion_compliance", args=[signed.version_id]) + "?show=all"
    ).content.decode()
    assert "Samantha Okafor" in page and "samantha OKAFOR" in page and "(UTC)" in page
    response = client.get(
        reverse("admin:plans_planversion_compliance_csv", args=[signed.version_id])
    )
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    row = next(r for r in rows if r["username"] == "sam")
    assert row["full_name"] == "Samantha Okafor" and row["typed_name"] == "samantha OKAFOR"
    assert row["meaning"] == "acknowledged" and row["statement"] == signed.statement
    assert row["fingerprint"] == signed.content_hash
    assert row["acknowledged_at"].endswith("+00:00")
    assert set(row) >= {"ip_address", "user_agent"}

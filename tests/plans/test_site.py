"""The self-service pages: what I owe, the text, the form, the receipt, my acknowledgements."""

import pytest
from django.urls import reverse

from plans import services
from plans.models import Acknowledgement
from tests import factories
from tests.plans.factories import published_plan
from tests.signing import signer_proof

pytestmark = pytest.mark.django_db


@pytest.fixture
def member():
    return factories.staff(username="sam", first_name="Sam", last_name="Staff")


@pytest.fixture
def published(approver):
    plan, version, author, _ = published_plan(approver=approver)
    return version


def test_home_lists_what_i_still_have_to_acknowledge(client, member, published):
    client.force_login(member)
    page = client.get("/").content.decode()
    assert "Plans to acknowledge" in page
    assert reverse("plans:version", args=[published.pk]) in page


def test_home_shows_no_plan_panel_when_nothing_is_owed(client, member, published):
    services.acknowledgement_create(
        version=published,
        actor=member,
        proof=signer_proof(member),
        full_name="Sam Staff",
        content_hash=published.content_hash,
    )
    client.force_login(member)
    assert "Plans to acknowledge" not in client.get("/").content.decode()


def test_version_page_renders_markdown_sanitised(client, member, coordinator, approver):
    from tests.plans.factories import draft_of, make_plan, publish

    plan = make_plan(author=coordinator, code="MD")
    version = draft_of(plan)
    services.section_update(
        section=version.sections.get(key="incident-definition"),
        actor=coordinator,
        body="**bold** text <script>alert(1)</script> [x](javascript:alert(2))",
    )
    publish(version, author=coordinator, approver=approver)
    client.force_login(member)
    page = client.get(reverse("plans:version", args=[version.pk])).content.decode()
    assert "<strong>bold</strong>" in page
    assert "<script>alert(1)" not in page and "javascript:" not in page
    assert version.content_hash in page
    assert 'name="content_hash"' in page and 'for="id_full_name"' in page


def test_acknowledging_through_the_form_shows_a_receipt(client, member, published):
    client.force_login(member)
    response = client.post(
        reverse("plans:acknowledge", args=[published.pk]),
        {
            "agree": "on",
            "password": "pw",
            "full_name": "sam staff",
            "content_hash": published.content_hash,
        },
        REMOTE_ADDR="10.1.2.3",
        HTTP_USER_AGENT="PhoneBrowser/1.0",
    )
    record = Acknowledgement.objects.get(user=member)
    assert response.status_code == 302
    assert response["Location"] == reverse("plans:receipt", args=[record.pk])
    assert record.ip_address == "10.1.2.3" and record.user_agent == "PhoneBrowser/1.0"
    receipt = client.get(response["Location"]).content.decode()
    assert published.content_hash in receipt and "Sam Staff".lower() in receipt.lower()
    mine = client.get(reverse("plans:my-acknowledgements")).content.decode()
    assert reverse("plans:receipt", args=[record.pk]) in mine


def test_form_errors_are_shown_and_nothing_is_saved(client, member, published):
    client.force_login(member)
    url = reverse("plans:acknowledge", args=[published.pk])
    wrong_name = client.post(
        url,
        {
            "agree": "on",
            "password": "pw",
            "full_name": "Not Me",
            "content_hash": published.content_hash,
        },
    )
    assert wrong_name.status_code == 400 and "full name" in wrong_name.content.decode()
    unchecked = client.post(url, {"full_name": "Sam Staff", "content_hash": published.content_hash})
    assert unchecked.status_code == 400
    stale = client.post(
        url, {"agree": "on", "password": "pw", "full_name": "Sam Staff", "content_hash": "0" * 64}
    )
    assert stale.status_code == 409 and "reload" in stale.content.decode()
    assert not Acknowledgement.objects.exists()


def test_someone_elses_receipt_is_not_found(client, member, published):
    other = factories.staff(username="other", first_name="O", last_name="T")
    record, _ = services.acknowledgement_create(
        version=published,
        actor=other,
        proof=signer_proof(other),
        full_name="O T",
        content_hash=published.content_hash,
    )
    client.force_login(member)
    assert client.get(reverse("plans:receipt", args=[record.pk])).status_code == 404


def test_drafts_are_not_found_for_staff(client, member, coordinator):
    from tests.plans.factories import draft_of, make_plan

    draft = draft_of(make_plan(author=coordinator, code="DR"))
    client.force_login(member)
    assert client.get(reverse("plans:version", args=[draft.pk])).status_code == 404
    assert client.get(reverse("plans:pending")).status_code == 200


def test_pages_require_sign_in(client, published):
    for url in (
        reverse("plans:pending"),
        reverse("plans:version", args=[published.pk]),
        reverse("plans:my-acknowledgements"),
    ):
        response = client.get(url)
        assert response.status_code == 302 and "login" in response["Location"]


def test_acknowledge_rejects_get(client, member, published):
    client.force_login(member)
    assert client.get(reverse("plans:acknowledge", args=[published.pk])).status_code == 405


def test_overdue_acknowledgements_are_marked_on_home(client, member, approver):
    plan, version, *_ = published_plan(code="LATE", approver=approver, acknowledgement_days=0)
    client.force_login(member)
    page = client.get("/").content.decode()
    assert "overdue since" in page


def _page_queries(client, url):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx)


def test_self_service_pages_cost_the_same_at_5_and_50_plans(client, member):
    approver = factories.approver(username="ap")
    counts = {"home": [], "pending": [], "mine": []}
    for size in (5, 50):
        for i in range(size - (0 if not counts["home"] else 5)):
            plan, version, *_ = published_plan(code=f"S{size}-{i}", approver=approver)
            if i % 2:
                services.acknowledgement_create(
                    version=version,
                    actor=member,
                    proof=signer_proof(member),
                    full_name=member.get_full_name(),
                    content_hash=version.content_hash,
                )
        client.force_login(member)
        counts["home"].append(_page_queries(client, "/"))
        counts["pending"].append(_page_queries(client, reverse("plans:pending")))
        counts["mine"].append(_page_queries(client, reverse("plans:my-acknowledgements")))
    for name, (small, large) in counts.items():
        assert small == large, name

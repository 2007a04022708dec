"""Electronic signatures (21 CFR 11.50, 11.100, 11.200): the signer re-enters their password
to acknowledge and for each review step; each signature records printed name, time, meaning
and the version's fingerprint; wrong passwords count towards the sign-in lockout."""

import datetime

import pytest
from axes.models import AccessAttempt
from django.db import IntegrityError, connection, transaction
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from core.errors import ImmutableRecord
from core.signing import SignatureRefused, authenticate_signer
from plans import services
from plans.models import Acknowledgement, Review, Signature
from tests import factories
from tests.plans.factories import fill, make_plan, published_plan
from tests.signing import signer_proof

pytestmark = pytest.mark.django_db


def _draft(coordinator):
    plan = make_plan(author=coordinator)
    return fill(plan.versions.get(), coordinator)


@pytest.fixture
def member(db):
    return factories.staff(username="sam", first_name="Samantha", last_name="Okafor")


def _ack_body(version, **extra):
    return {"full_name": "Samantha Okafor", "content_hash": version.content_hash, **extra}


def test_right_password_records_a_signature_with_every_field(api, approver, member):
    _, version, _, _ = published_plan(approver=approver)
    response = api(member).post(
        f"/api/v1/plan-versions/{version.pk}/acknowledge/", _ack_body(version, password="pw")
    )
    assert response.status_code == 201, response.content
    signature = Signature.objects.get(meaning=Signature.Meaning.ACKNOWLEDGED)
    assert signature.signer == member and signature.printed_name == "Samantha Okafor"
    assert signature.content_hash == version.content_hash and signature.version == version
    assert signature.method == Signature.Method.PASSWORD
    assert abs(signature.signed_at - timezone.now()) < datetime.timedelta(minutes=1)
    assert signature.acknowledgement == Acknowledgement.objects.get(user=member)
    assert signature.history.count() == 1
    assert "password" not in response.json()


def test_wrong_or_missing_password_is_403_and_nothing_is_signed(api, approver, member):
    _, version, _, _ = published_plan(approver=approver)
    url = f"/api/v1/plan-versions/{version.pk}/acknowledge/"
    for body in (_ack_body(version, password="wrong"), _ack_body(version)):
        response = api(member).post(url, body)
        assert response.status_code == 403
        assert response.json()["code"] == "signature_refused"
    assert not Acknowledgement.objects.exists()
    assert not Signature.objects.filter(meaning="acknowledged").exists()


def test_wrong_passwords_count_towards_the_lockout_then_even_the_right_one_fails(
    api, approver, member, settings
):
    settings.AXES_FAILURE_LIMIT = 3
    _, version, _, _ = published_plan(approver=approver)
    url = f"/api/v1/plan-versions/{version.pk}/acknowledge/"
    client = api(member)
    for _ in range(3):
        assert client.post(url, _ack_body(version, password="guess")).status_code == 403
    assert AccessAttempt.objects.get(username="sam").failures_since_start == 3
    locked = client.post(url, _ack_body(version, password="pw"))
    assert locked.status_code == 403 and "locked" in locked.json()["detail"]
    assert not Acknowledgement.objects.exists()
    # The same lockout as sign-in: the sign-in page refuses the right password too.
    browser = Client()
    login = browser.post(reverse("login"), {"username": "sam", "password": "pw"})
    assert login.status_code != 302 and "_auth_user_id" not in browser.session


def test_someone_elses_password_is_refused(member):
    factories.staff(username="helper")
    request = RequestFactory().post("/")
    with pytest.raises(SignatureRefused):
        authenticate_signer(request, member, "wrong")
    assert authenticate_signer(request, member, "pw").method == "password"


def test_a_fresh_provider_reauthentication_signs_without_a_password(member, settings):
    request = RequestFactory().post("/")
    request.session = {"signing_reauth_at": timezone.now().isoformat()}
    assert authenticate_signer(request, member, "").method == "oidc"
    request.session = {
        "signing_reauth_at": (timezone.now() - datetime.timedelta(seconds=301)).isoformat()
    }
    with pytest.raises(SignatureRefused):
        authenticate_signer(request, member, "")
    settings.SIGNING_REAUTH_SECONDS = 600
    assert authenticate_signer(request, member, "").method == "oidc"


def test_the_services_refuse_without_a_proof_or_with_someone_elses(coordinator, approver, member):
    version = _draft(coordinator)
    with pytest.raises(SignatureRefused):
        services.version_submit(version=version, actor=coordinator)
    with pytest.raises(SignatureRefused):
        services.version_submit(version=version, actor=coordinator, proof=signer_proof(approver))
    version.refresh_from_db()
    assert version.status == "draft" and not Review.objects.exists()
    _, published, _, _ = published_plan(code="PUB", approver=approver)
    with pytest.raises(SignatureRefused):
        services.acknowledgement_create(
            version=published,
            actor=member,
            full_name="Samantha Okafor",
            content_hash=published.content_hash,
        )
    assert not Acknowledgement.objects.exists()


def test_each_step_is_a_signature_with_its_meaning(api, coordinator, approver):
    version = _draft(coordinator)
    url = f"/api/v1/plan-versions/{version.pk}/"
    author, reviewer = api(coordinator), api(approver)
    assert author.post(url + "submit/", {"password": "pw"}).status_code == 200
    version.refresh_from_db()
    submitted_hash = version.content_hash
    changes = reviewer.post(url + "request-changes/", {"comment": "Thin", "password": "pw"})
    assert changes.status_code == 200
    assert author.post(url + "submit/", {"password": "pw"}).status_code == 200
    assert reviewer.post(url + "approve/", {"password": "nope"}).status_code == 403
    assert reviewer.post(url + "approve/", {"password": "pw"}).status_code == 200
    assert reviewer.post(url + "publish/", {"password": "pw"}).status_code == 200
    signatures = list(Signature.objects.filter(version=version).order_by("signed_at", "id"))
    assert [s.meaning for s in signatures] == [
        "submitted",
        "changes_requested",
        "submitted",
        "approved",
        "published",
    ]
    assert signatures[1].content_hash == submitted_hash  # what was sent back, not None
    assert [s.printed_name for s in signatures] == [
        coordinator.get_full_name() or "coord",
        approver.get_full_name() or "appr",
        coordinator.get_full_name() or "coord",
        approver.get_full_name() or "appr",
        approver.get_full_name() or "appr",
    ]
    assert all(s.review is not None and s.method == "password" for s in signatures)


def test_the_list_endpoint_shows_every_signature_of_a_visible_version(
    api, approver, member, compliance_user
):
    _, version, _, _ = published_plan(approver=approver)
    api(member).post(
        f"/api/v1/plan-versions/{version.pk}/acknowledge/", _ack_body(version, password="pw")
    )
    url = f"/api/v1/plan-versions/{version.pk}/signatures/"
    rows = api(compliance_user).get(url).json()
    assert [r["meaning"] for r in rows] == ["submitted", "approved", "published", "acknowledged"]
    assert set(rows[0]) >= {"printed_name", "signed_at", "meaning", "content_hash"}
    assert rows[-1]["printed_name"] == "Samantha Okafor"
    assert rows[-1]["content_hash"] == version.content_hash
    # Another member of staff sees the review steps, not who acknowledged.
    other = factories.staff(username="o2")
    assert [r["meaning"] for r in api(other).get(url).json()] == [
        "submitted",
        "approved",
        "published",
    ]
    assert api(other).get("/api/v1/plan-versions/999999/signatures/").status_code == 404


def test_a_drafts_signatures_are_as_hidden_as_the_draft(api, coordinator, staff_user):
    version = _draft(coordinator)
    services.version_submit(version=version, actor=coordinator, proof=signer_proof(coordinator))
    url = f"/api/v1/plan-versions/{version.pk}/signatures/"
    assert api(staff_user).get(url).status_code == 404
    assert [r["meaning"] for r in api(coordinator).get(url).json()] == ["submitted"]


def test_the_list_costs_the_same_at_any_size(api, approver, compliance_user):
    from django.test.utils import CaptureQueriesContext

    _, version, _, _ = published_plan(approver=approver)
    url = f"/api/v1/plan-versions/{version.pk}/signatures/"
    client = api(compliance_user)

    def count():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    count()  # the first request fills the permission cache
    small = count()
    for n in range(4):
        signer = factories.staff(username=f"s{n}", first_name="S", last_name=str(n))
        services.acknowledgement_create(
            version=version,
            actor=signer,
            proof=signer_proof(signer),
            full_name=f"S {n}",
            content_hash=version.content_hash,
        )
    assert count() == small


def test_signatures_never_change(approver):
    _, version, _, _ = published_plan(approver=approver)
    signature = Signature.objects.filter(version=version).first()
    with pytest.raises(ImmutableRecord):
        signature.save()
    with pytest.raises(ImmutableRecord):
        signature.delete()
    with pytest.raises(IntegrityError), transaction.atomic():
        Signature.objects.filter(pk=signature.pk).update(printed_name="Someone else")
    with pytest.raises(IntegrityError), transaction.atomic():
        Signature.objects.filter(pk=signature.pk).delete()


def test_the_self_service_page_asks_for_the_password_and_the_receipt_shows_the_signature(
    client, approver, member
):
    _, version, _, _ = published_plan(approver=approver)
    client.force_login(member)
    page = client.get(reverse("plans:version", args=[version.pk])).content.decode()
    assert 'type="password"' in page
    url = reverse("plans:acknowledge", args=[version.pk])
    form = {"agree": "on", "full_name": "Samantha Okafor", "content_hash": version.content_hash}
    wrong = client.post(url, {**form, "password": "nope"})
    assert wrong.status_code == 403 and "password" in wrong.content.decode()
    assert not Acknowledgement.objects.exists()
    right = client.post(url, {**form, "password": "pw"})
    assert right.status_code == 302
    receipt = client.get(right["Location"]).content.decode()
    assert "Electronic signature" in receipt and "Samantha Okafor, acknowledged" in receipt
    assert version.content_hash in receipt and "UTC" in receipt


def test_the_admin_step_needs_the_password_and_the_version_page_lists_signatures(
    client, coordinator
):
    version = _draft(coordinator)
    client.force_login(coordinator)
    url = reverse("admin:plans_planversion_workflow", args=[version.pk])
    change = reverse("admin:plans_planversion_change", args=[version.pk])
    page = client.get(change).content.decode()
    assert 'name="password"' in page
    refused = client.post(url, {"step": "submit", "password": "nope"}, follow=True)
    assert "password is not right" in refused.content.decode()
    version.refresh_from_db()
    assert version.status == "draft"
    client.post(url, {"step": "submit", "password": "pw"})
    version.refresh_from_db()
    assert version.status == "in_review"
    page = client.get(change).content.decode()
    assert "electronic signatures" in page.lower() and version.content_hash in page

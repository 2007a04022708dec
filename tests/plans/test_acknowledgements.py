"""Acknowledging a published version: signature, statement, fingerprint, audience, once only."""

import threading

import pytest
from django.db import connection, connections

from core.errors import FingerprintMismatch, InvalidInput, NotPermitted
from plans import services
from plans.models import Acknowledgement, PlanVersion
from tests import factories
from tests.plans.factories import draft_of, fill, make_plan, publish, published_plan
from tests.signing import signer_proof

pytestmark = pytest.mark.django_db


@pytest.fixture
def published(approver):
    plan, version, author, _ = published_plan(approver=approver)
    return version


@pytest.fixture
def member():
    return factories.staff(username="sam", first_name="Sam", last_name="O'Neil Smith")


def ack(version, user, name=None, content_hash=None, **kw):
    return services.acknowledgement_create(
        version=version,
        actor=user,
        proof=signer_proof(user),
        full_name=user.get_full_name() if name is None else name,
        content_hash=version.content_hash if content_hash is None else content_hash,
        **kw,
    )


def test_acknowledgement_records_signature_statement_fingerprint_time_ip_and_agent(
    published, member
):
    record, created = ack(
        published, member, name="  sam   o'neil SMITH ", ip_address="10.0.0.7", user_agent="Phone"
    )
    assert created
    assert record.full_name == "sam o'neil SMITH"
    assert record.statement == (
        "I have read and understood IRP response plan (IRP) version 1 and will follow it."
    )
    assert record.content_hash == published.content_hash
    assert record.ip_address == "10.0.0.7" and record.user_agent == "Phone"
    assert record.acknowledged_at is not None
    entry = record.history.get()
    assert entry.history_user == member and entry.history_type == "+"


@pytest.mark.parametrize("typed", ["Sam Smith", "", "Sam O'Neil Smith Jr", "sam"])
def test_typed_name_must_match_the_users_full_name(published, member, typed):
    with pytest.raises(InvalidInput) as error:
        ack(published, member, name=typed)
    assert error.value.field == "full_name"
    assert not Acknowledgement.objects.exists()


def test_user_without_a_name_on_record_cannot_sign(published):
    nameless = factories.staff(username="anon", first_name="", last_name="")
    with pytest.raises(InvalidInput):
        ack(published, nameless, name="anon")


def test_fingerprint_mismatch_is_refused(published, member):
    with pytest.raises(FingerprintMismatch):
        ack(published, member, content_hash="0" * 64)
    assert not Acknowledgement.objects.exists()


def test_fingerprint_comparison_ignores_case_of_hex(published, member):
    _, created = ack(published, member, content_hash=published.content_hash.upper())
    assert created


def test_only_the_published_version_can_be_acknowledged(coordinator, approver, member):
    plan = make_plan(author=coordinator, code="DRAFTY")
    version = fill(draft_of(plan), coordinator)
    with pytest.raises(InvalidInput):
        ack(version, member, content_hash="0" * 64)
    services.version_submit(version=version, actor=coordinator, proof=signer_proof(coordinator))
    version.refresh_from_db()
    with pytest.raises(InvalidInput):
        ack(version, member)
    services.version_approve(version=version, actor=approver, proof=signer_proof(approver))
    with pytest.raises(InvalidInput):
        ack(version, member)
    services.version_publish(version=version, actor=approver, proof=signer_proof(approver))
    nxt = fill(services.version_create_draft(plan=plan, actor=coordinator), coordinator, "v2")
    publish(nxt, author=coordinator, approver=approver)
    version.refresh_from_db()
    assert version.status == PlanVersion.Status.SUPERSEDED
    with pytest.raises(InvalidInput):
        ack(version, member)


def test_people_outside_the_audience_cannot_acknowledge(published):
    outsider = factories.UserFactory(username="out", groups=["Contractors"])
    from django.contrib.auth.models import Permission

    outsider.user_permissions.add(Permission.objects.get(codename="add_acknowledgement"))
    with pytest.raises(NotPermitted):
        ack(published, outsider)


def test_inactive_members_are_not_in_the_audience(published, member):
    member.is_active = False
    member.save()
    with pytest.raises(NotPermitted):
        ack(published, member)


def test_acknowledging_twice_returns_the_first(published, member):
    first, created = ack(published, member, user_agent="first")
    again, created_again = ack(published, member, user_agent="second")
    assert created and not created_again
    assert again.pk == first.pk and again.user_agent == "first"
    assert Acknowledgement.objects.count() == 1


def test_repeat_with_a_stale_fingerprint_still_returns_the_first(published, member):
    first, _ = ack(published, member)
    again, created = ack(published, member, content_hash="0" * 64)
    assert again.pk == first.pk and not created


@pytest.fixture
def purge_acknowledgements_after():
    """Transactional tests leave rows behind; remove them as an administrator would (the
    signature each acknowledgement carries first: it holds the acknowledgement's key)."""
    yield
    with connection.cursor() as cursor:
        for table in ("plans_signature", "plans_acknowledgement"):
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            cursor.execute(f"DELETE FROM {table}")
            cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_requests_give_one_row_and_no_error(
    postgres_only, purge_acknowledgements_after
):
    plan, version, author, _ = published_plan(approver=factories.approver(username="ap"))
    member = factories.staff(username="twin", first_name="Twin", last_name="Request")
    barrier = threading.Barrier(2)
    results, errors = [], []

    def worker():
        try:
            barrier.wait()
            results.append(ack(PlanVersion.objects.get(pk=version.pk), member))
        except Exception as exc:  # noqa: BLE001  (collected and asserted below)
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert Acknowledgement.objects.filter(user=member, version=version).count() == 1
    assert sorted(created for _, created in results) == [False, True]
    assert len({record.pk for record, _ in results}) == 1


def test_refusal_by_the_database_guard_is_a_400_not_a_500(published, member, monkeypatch):
    """If the version is superseded between the service's check and the insert."""
    from plans import queries

    # Simulate the race: the service sees "published", the database sees the stored hash differ.
    stale = PlanVersion.objects.get(pk=published.pk)
    stale.content_hash = "f" * 64
    monkeypatch.setattr(
        PlanVersion.objects, "select_related", lambda *a: _Fixed(stale), raising=False
    )
    monkeypatch.setattr(queries, "in_audience", lambda user, plan: True)
    with pytest.raises(InvalidInput, match="no longer the published one"):
        ack(stale, member, content_hash="f" * 64)
    assert not Acknowledgement.objects.exists()


class _Fixed:
    def __init__(self, version):
        self.version = version

    def get(self, **kwargs):
        return self.version

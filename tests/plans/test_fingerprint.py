"""The content fingerprint: the documented recipe, and the command that re-verifies it."""

import hashlib
import json

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from plans import services
from plans.fingerprint import fingerprint
from tests.plans.factories import draft_of, fill, make_plan, published_plan
from tests.signing import signer_proof

pytestmark = pytest.mark.django_db


def test_fingerprint_matches_the_documented_recipe():
    sections = [("a", "Heading Ä", "Body *one*"), ("b", "Two", "")]
    canonical = json.dumps(
        {
            "plan": "IRP",
            "version": 3,
            "sections": [{"key": k, "heading": h, "body": b} for k, h, b in sections],
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    assert fingerprint("IRP", 3, sections) == hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def test_docs_worked_example_gives_the_documented_digest():
    # The same numbers appear in docs/plans.md so an auditor can check their own tooling.
    sections = [
        ("incident-definition", "Incident Definition", "Any unplanned disruption of a service."),
        ("acknowledgement", "Acknowledgement", "I have read this plan."),
    ]
    assert (
        fingerprint("IRP", 1, sections)
        == "7446385e6d2d5bfe1ff277b871fa0406bbfe09173001386647522c5f50ab4778"
    )


def test_submit_stores_the_fingerprint_of_the_sections_in_order(coordinator):
    version = fill(draft_of(make_plan(author=coordinator)), coordinator)
    services.version_submit(version=version, actor=coordinator, proof=signer_proof(coordinator))
    version.refresh_from_db()
    rows = version.sections.order_by("order").values_list("key", "heading", "body")
    assert version.content_hash == fingerprint("IRP", 1, list(rows))
    assert len(version.content_hash) == 64


def test_verify_command_passes_when_everything_matches(approver, capsys):
    published_plan(approver=approver)
    call_command("verify_plan_fingerprints")
    assert "All 1 version fingerprints match" in capsys.readouterr().out


def _without_guards(statements):
    """Tamper as a database administrator would: drop the guard inside the test transaction."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("ALTER TABLE plans_section DISABLE TRIGGER plans_section_guard")
        else:
            cursor.execute("DROP TRIGGER plans_section_frozen_update")
        for sql, params in statements:
            cursor.execute(sql, params)


def test_verify_command_reports_tampered_text_and_exits_non_zero(approver, capsys):
    plan, version, *_ = published_plan(approver=approver)
    _without_guards(
        [("UPDATE plans_section SET body = 'tampered' WHERE version_id = %s", [version.pk])]
    )
    with pytest.raises(CommandError, match="1 fingerprint mismatch"):
        call_command("verify_plan_fingerprints")
    assert f"MISMATCH IRP v{version.number}" in capsys.readouterr().err

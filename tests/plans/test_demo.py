"""The demo loader: a superseded, a published and an in-review version; safe to run twice."""

import io

import pytest
from django.core.management import call_command

from plans.models import Acknowledgement, Plan, PlanChangeRequest, PlanVersion
from plans.queries import version_in_force
from tests.signing import signer_proof

pytestmark = pytest.mark.django_db


def test_demo_builds_the_plan_story_and_is_idempotent(settings):
    settings.DEBUG = True
    call_command("demo", stdout=io.StringIO())
    call_command("demo", stdout=io.StringIO())
    plan = Plan.objects.get(code="IRP")
    statuses = dict(plan.versions.values_list("number", "status"))
    assert statuses == {1: "superseded", 2: "published", 3: "in_review"}
    v2 = plan.versions.get(number=2)
    assert Acknowledgement.objects.filter(version=v2).count() == 3
    assert list(plan.audience.values_list("name", flat=True)) == ["Staff"]
    v3 = plan.versions.get(number=3)
    assert v3.submitted_by.username == "coordinator"
    assert PlanChangeRequest.objects.filter(plan=plan, status="open").count() == 1
    assert version_in_force(plan, v2.published_at) == v2
    assert PlanVersion.objects.filter(plan=plan).count() == 3
    call_command("verify_plan_fingerprints", stdout=io.StringIO())


def test_demo_approver_can_approve_the_version_in_review(settings):
    from django.contrib.auth import get_user_model

    from plans import services

    settings.DEBUG = True
    call_command("demo", stdout=io.StringIO())
    v3 = PlanVersion.objects.get(plan__code="IRP", number=3)
    approver = get_user_model().objects.get(username="approver")
    services.version_approve(version=v3, actor=approver, proof=signer_proof(approver))
    services.version_publish(version=v3, actor=approver, proof=signer_proof(approver))
    assert PlanChangeRequest.objects.get().status == "addressed"

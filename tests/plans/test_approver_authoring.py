"""Plan approvers may author drafts; separation of duties stops them approving their own."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from core.errors import SeparationOfDuties
from plans import services
from plans.models import PlanVersion
from tests import factories
from tests.plans.factories import draft_of, make_plan
from tests.plans.test_admin import change_url, draft_post_data
from tests.signing import signer_proof

pytestmark = pytest.mark.django_db


def test_an_approver_drafts_edits_and_submits_but_cannot_approve_it(client, coordinator, approver):
    plan = make_plan(author=coordinator, code="AUT")
    version = draft_of(plan)
    client.force_login(approver)
    data = draft_post_data(version, **{"incident-reporting": "Written by an approver."})
    assert client.post(change_url(version), data).status_code == 302
    assert approver in version.editors.all()
    services.version_submit(version=version, actor=approver, proof=signer_proof(approver))
    with pytest.raises(SeparationOfDuties):
        services.version_approve(version=version, actor=approver, proof=signer_proof(approver))
    page = client.get(change_url(version)).content.decode()
    assert 'value="approve"' not in page and "separation of duties" in page
    assert 'value="request_changes"' in page
    other = factories.approver(username="second-approver")
    client.force_login(other)
    page = client.get(change_url(version)).content.decode()
    assert 'value="approve"' in page and "separation of duties" not in page


def test_an_approver_starts_the_next_draft(coordinator, approver):
    from tests.plans.factories import published_plan

    plan, *_ = published_plan(approver=approver, code="NXT")
    draft = services.version_create_draft(plan=plan, actor=approver)
    assert draft.author == approver and draft.status == PlanVersion.Status.DRAFT


def test_the_demo_shows_an_approver_the_refusal(client, settings):
    settings.DEBUG = True
    call_command("demo", stdout=io.StringIO())
    approver = get_user_model().objects.get(username="approver")
    version = PlanVersion.objects.get(plan__code="DBP", number=1)
    assert version.status == PlanVersion.Status.IN_REVIEW
    client.force_login(approver)
    page = client.get(change_url(version)).content.decode()
    assert 'value="approve"' not in page and "separation of duties" in page

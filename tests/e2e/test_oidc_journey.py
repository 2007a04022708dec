"""A member of staff signs in through the organisation's OpenID provider (a real one on
loopback, tests/oidc_provider/), gets the groups the directory gives them, and acknowledges
the plan their group must read.

An acknowledgement is an electronic signature: an account the provider made has no
password here, so the person signs in again at the provider (/oidc/reauth/, prompt=login)
and then signs within SIGNING_REAUTH_SECONDS.
"""

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from playwright.sync_api import expect

from core.roles import STAFF
from plans.models import Acknowledgement
from tests.plans.factories import published_plan

pytestmark = pytest.mark.django_db(transaction=True)


def test_staff_signs_in_through_the_provider_and_acknowledges_their_groups_plan(
    page, live_server, oidc, shot
):
    Group.objects.create(name="Finance")
    plan, version, _, _ = published_plan(
        code="FIN", title="Payment fraud response plan", audience=("Finance",)
    )

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_role("link", name="Sign in with Example SSO").click()
    # The provider's own page, on its own address.
    expect(page.get_by_role("heading", name="Sign in to the test provider")).to_be_visible()
    assert page.url.startswith(oidc.issuer)
    page.get_by_label("Username").fill("alex")
    page.get_by_label("Password").fill("alex-pw")
    page.get_by_role("button", name="Continue").click()

    # Back on the self-service site, signed in, with the plan of the group the directory gave.
    expect(page.get_by_text("Payment fraud response plan")).to_be_visible()
    assert page.url.startswith(live_server.url)
    alex = get_user_model().objects.get(username="alex")
    assert set(alex.groups.values_list("name", flat=True)) == {STAFF, "Finance"}
    shot(page, "self-service-oidc-signed-in")

    page.get_by_role("link", name=re.compile("Payment fraud response plan")).first.click()
    expect(page.get_by_role("heading", name="Acknowledge this version")).to_be_visible()
    # No password here: sign in again at the provider, which asks for it afresh.
    page.get_by_role("link", name="Sign in again at your identity provider").click()
    expect(page.get_by_role("heading", name="Sign in to the test provider")).to_be_visible()
    page.get_by_label("Username").fill("alex")
    page.get_by_label("Password").fill("alex-pw")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Acknowledge this version")).to_be_visible()
    page.get_by_role("checkbox").check()
    page.get_by_label(re.compile("full name", re.I)).fill("Alex Morgan")
    page.get_by_role("button", name=re.compile("acknowledge", re.I)).click()
    expect(page.get_by_text(version.content_hash).first).to_be_visible()
    ack = Acknowledgement.objects.get(user=alex, version=version)
    assert ack.full_name == "Alex Morgan"
    assert ack.signature.method == "oidc"

    # Signing out ends the provider's session too: it asks to confirm, on its own page.
    page.get_by_role("button", name=re.compile("Sign out", re.I)).click()
    expect(page.get_by_role("heading", name="Sign out of the test provider")).to_be_visible()
    page.get_by_role("button", name="Yes, sign me out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert page.url.startswith(f"{live_server.url}/accounts/login/")

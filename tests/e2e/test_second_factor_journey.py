"""A coordinator sets up an authenticator app at their first admin sign-in, then signs in
again with a code from it (ADMIN_REQUIRE_2FA on, as in production)."""

import time
from base64 import b32decode

import pytest
from django_otp.oath import TOTP
from playwright.sync_api import expect

from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


def app_code(secret, steps_ahead=0):
    """What an authenticator app shows for the secret the page printed."""
    key = secret.replace(" ", "")
    totp = TOTP(b32decode(key + "=" * (-len(key) % 8)))
    totp.time = time.time() + 30 * steps_ahead
    return f"{totp.token():06d}"


def password_sign_in(page, live_server, username):
    page.context.clear_cookies()
    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("pw")
    page.get_by_role("button", name="Log in").click()


def test_coordinator_enrols_totp_then_signs_in_with_a_code(page, live_server, settings, shot):
    settings.ADMIN_REQUIRE_2FA = True
    factories.coordinator(username="cora", first_name="Cora", last_name="Coord")

    password_sign_in(page, live_server, "cora")
    expect(page.get_by_role("heading", name="Set up an authenticator app")).to_be_visible()
    expect(page.locator("figure.qr svg")).to_be_visible()
    shot(page, "admin-second-factor-enrol")
    secret = page.locator("[data-secret]").inner_text()
    page.get_by_label("Code from the app").fill(app_code(secret))
    page.get_by_role("button", name="Confirm").click()

    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    expect(page.get_by_role("list", name="Recovery codes").locator("li")).to_have_count(10)
    page.get_by_role("link", name="Continue").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()

    # Signed out and in again: the password alone no longer opens the admin.
    page.get_by_role("button", name="Log out").click()
    password_sign_in(page, live_server, "cora")
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    page.goto(f"{live_server.url}/admin/auth/user/")
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    page.get_by_label("Code").fill(app_code(secret, steps_ahead=1))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    assert page.url.endswith("/admin/auth/user/")

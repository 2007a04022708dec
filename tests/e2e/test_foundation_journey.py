"""A staff member signs in to the self-service site and out again."""

import pytest
from playwright.sync_api import expect

from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


def test_staff_signs_in_sees_home_and_signs_out(page, live_server, sign_in, shot):
    factories.staff(username="sam", first_name="Sam", last_name="Staff")
    sign_in(page, "sam")
    expect(page.get_by_role("heading", name="Hello, Sam Staff")).to_be_visible()
    shot(page, "self-service-home")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_wrong_password_is_refused_with_a_message(page, live_server, sign_in):
    factories.staff(username="sam")
    sign_in(page, "sam", password="wrong")
    expect(page.get_by_role("alert")).to_contain_text("didn't match")


def test_the_time_zone_offer_shows_only_when_the_device_zone_differs(
    page, browser, live_server, sign_in
):
    """A device in the zone times are shown in sees no offer (the banner was once shown empty
    to everyone: the stylesheet's `display: flex` overrode `hidden`); one elsewhere is offered
    its own zone by name, and taking it shows times there."""
    factories.staff(username="sam", first_name="Sam", last_name="Staff")
    sign_in(page, "sam")
    expect(page.get_by_role("heading", name="Hello, Sam Staff")).to_be_visible()
    expect(page.locator("#time-zone-offer")).to_be_hidden()

    context = browser.new_context(timezone_id="Europe/Paris")
    try:
        elsewhere = context.new_page()
        sign_in(elsewhere, "sam")
        offer = elsewhere.locator("#time-zone-offer")
        expect(offer).to_be_visible()
        expect(offer).to_contain_text("your device is set to Europe/Paris")
        offer.get_by_role("button", name="Use Europe/Paris").click()
        expect(elsewhere.get_by_text("Times in Europe/Paris")).to_be_visible()
        expect(elsewhere.locator("#time-zone-offer")).to_be_hidden()
    finally:
        context.close()

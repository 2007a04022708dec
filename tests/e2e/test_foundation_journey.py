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

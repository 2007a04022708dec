"""Second factor for the admin roles (core/second_factor.py, core/middleware.py)."""

import time

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from core import second_factor
from core.roles import INCIDENT_INTAKE
from tests import factories

pytestmark = pytest.mark.django_db

ENROL = "/accounts/second-factor/enrol/"
VERIFY = "/accounts/second-factor/"


@pytest.fixture(autouse=True)
def _on(settings):
    settings.ADMIN_REQUIRE_2FA = True


def code_for(device, steps_ahead=0):
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():06d}"


def enrolled(user):
    """`user` with a confirmed app; returns (device, recovery codes)."""
    device = second_factor.enrolment_start(user=user)
    codes = second_factor.enrolment_confirm(user=user, code=code_for(device))
    return TOTPDevice.objects.get(pk=device.pk), codes


@pytest.mark.parametrize(
    "make",
    [
        factories.coordinator,
        factories.approver,
        factories.compliance,
        lambda **kw: factories.UserFactory(groups=[INCIDENT_INTAKE], is_staff=True, **kw),
    ],
)
def test_each_admin_role_is_sent_to_enrol_before_any_admin_page(client, make):
    user = make(username="role")
    client.force_login(user)
    for url in (
        "/admin/",
        "/admin/auth/user/",
        f"/admin/auth/user/{user.pk}/history/",
        "/admin/autocomplete/?app_label=auth&model_name=user&field_name=user",
        "/admin/auth/user/?_popup=1",
    ):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(VERIFY), url
    # The page it lands on sends a person without an app to enrol.
    assert client.get(VERIFY).headers["Location"].startswith("enrol/")
    page = client.get(ENROL)
    assert page.status_code == 200
    assert b"<svg" in page.content and b"Secret" in page.content


def test_the_session_api_refuses_until_verified_but_a_token_is_unaffected(client, coordinator):
    client.force_login(coordinator)
    response = client.get("/api/v1/me/", HTTP_ACCEPT="application/json")
    assert response.status_code == 403
    assert response.json()["code"] == "second_factor_required"
    browsable = client.get("/api/v1/me/", HTTP_ACCEPT="text/html")
    assert browsable.status_code == 403
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=coordinator)
    from django.test import Client

    assert (
        Client().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {token.key}").status_code == 200
    )


def test_staff_and_the_self_service_site_are_not_asked(client, staff_user, coordinator):
    client.force_login(staff_user)
    assert client.get("/api/v1/me/").status_code == 200
    client.force_login(coordinator)
    assert client.get("/").status_code == 200  # self-service home: no second factor


def test_off_by_setting_nobody_is_asked(client, coordinator, settings):
    settings.ADMIN_REQUIRE_2FA = False
    client.force_login(coordinator)
    assert client.get("/admin/").status_code == 200


def test_enrol_in_the_browser_flow_then_verify_with_a_code(client, coordinator):
    client.force_login(coordinator)
    client.get(ENROL)
    device = TOTPDevice.objects.get(user=coordinator, confirmed=False)
    wrong = client.post(ENROL, {"code": "000000" if code_for(device) != "000000" else "111111"})
    assert b"not right" in wrong.content
    device.refresh_from_db()
    time.sleep(1.1)  # the wrong code's wait (1 s)
    page = client.post(ENROL, {"code": code_for(device), "next": "/admin/"})
    assert page.status_code == 200
    codes = page.context["codes"]
    assert len(codes) == 10 and all(c.encode() in page.content for c in codes)
    assert client.get("/admin/").status_code == 200  # this session is verified
    # A new session asks for a code, and takes the app's.
    client.logout()
    client.force_login(coordinator)
    assert client.get("/admin/").status_code == 302
    response = client.post(VERIFY, {"code": code_for(device, 1), "next": "/admin/"})
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_enrolment_and_confirmation_are_in_the_history_with_the_actor(coordinator):
    device, codes = enrolled(coordinator)
    rows = list(device.history.order_by("history_id"))
    assert rows[0].history_type == "+" and rows[0].confirmed is False
    assert rows[-1].confirmed is True
    assert {row.history_user_id for row in rows} == {coordinator.pk}
    assert rows[-1].history_change_reason == "Second factor enrolment confirmed"
    assert StaticToken.history.filter(history_type="+", history_user=coordinator).count() == 10


def test_a_recovery_code_works_once(client, coordinator):
    _, codes = enrolled(coordinator)
    client.force_login(coordinator)
    assert client.post(VERIFY, {"code": codes[0]}).status_code == 302
    assert client.get("/admin/").status_code == 200
    assert second_factor.recovery_codes_left(coordinator) == 9
    used = StaticToken.history.get(token=codes[0], history_type="-")
    assert used.history_user == coordinator and used.history_change_reason == "Recovery code used"
    client.logout()
    client.force_login(coordinator)
    again = client.post(VERIFY, {"code": codes[0]})
    assert again.status_code == 200 and b"not right" in again.content
    assert client.get("/admin/").status_code == 302


def test_wrong_codes_are_throttled(client, coordinator):
    device, _ = enrolled(coordinator)
    client.force_login(coordinator)
    right = code_for(device, 1)
    wrong = "123456" if right != "123456" else "654321"
    assert b"not right" in client.post(VERIFY, {"code": wrong}).content
    # Even the right code waits now: the second attempt comes within the wait.
    refused = client.post(VERIFY, {"code": right})
    assert b"Too many wrong codes" in refused.content
    assert client.get("/admin/").status_code == 302
    device.refresh_from_db()
    assert device.throttling_failure_count == 1
    assert device.history.filter(throttling_failure_count=1).exists()


def test_own_reset_needs_a_current_code_and_is_audited(client, coordinator):
    device, codes = enrolled(coordinator)
    with pytest.raises(second_factor.WrongCode):
        second_factor.reset(actor=coordinator, user=coordinator, code="nope-nope")
    assert second_factor.has_second_factor(coordinator)
    time.sleep(1.1)
    second_factor.reset(actor=coordinator, user=coordinator, code=codes[1])
    assert not second_factor.has_second_factor(coordinator)
    gone = TOTPDevice.history.get(id=device.pk, history_type="-")
    assert gone.history_user == coordinator
    assert gone.history_change_reason == "Own second factor reset"


def test_an_admin_resets_another_with_permission_and_a_reason(client, coordinator, superuser):
    device, _ = enrolled(coordinator)
    approver = factories.approver(username="appr")
    with pytest.raises(second_factor.NotPermitted):
        second_factor.reset(actor=approver, user=coordinator, reason="lost phone")
    approver.user_permissions.add(Permission.objects.get(codename="reset_second_factor"))
    approver = type(approver).objects.get(pk=approver.pk)
    with pytest.raises(second_factor.InvalidInput):
        second_factor.reset(actor=approver, user=coordinator, reason="  ")
    # Through the admin page, which the resetter reaches only with their own factor passed.
    admin_device, _ = enrolled(superuser)
    client.force_login(superuser)
    client.post(VERIFY, {"code": code_for(admin_device, 1)})
    url = reverse("second-factor-admin-reset", args=[coordinator.pk])
    assert b"Reason" in client.get(url).content
    response = client.post(url, {"reason": "Lost phone, ticket 42"})
    assert response.status_code == 302
    assert not second_factor.has_second_factor(coordinator)
    gone = TOTPDevice.history.get(id=device.pk, history_type="-")
    assert gone.history_user == superuser
    assert gone.history_change_reason == "Lost phone, ticket 42"


def test_a_reset_ends_the_verified_sessions(client, coordinator, superuser):
    device, _ = enrolled(coordinator)
    client.force_login(coordinator)
    client.post(VERIFY, {"code": code_for(device, 1)})
    assert client.get("/admin/").status_code == 200
    second_factor.reset(actor=superuser, user=coordinator, reason="Left the team")
    response = client.get("/admin/")
    assert response.status_code == 302 and response["Location"].startswith(VERIFY)


@pytest.mark.parametrize("amr", [["pwd", "mfa"], ["otp"], ["hwk"], ["swk", "pwd"]])
def test_an_oidc_sign_in_with_a_second_factor_satisfies_it(client, coordinator, amr):
    client.force_login(coordinator)
    session = client.session
    session["oidc_amr"] = amr
    session.save()
    assert client.get("/admin/").status_code == 200


@pytest.mark.parametrize("amr", [["pwd"], ["pin"], ["face"], "nonsense", [None]])
def test_an_oidc_sign_in_with_a_password_alone_does_not(client, coordinator, amr):
    client.force_login(coordinator)
    session = client.session
    session["oidc_amr"] = amr
    session.save()
    assert client.get("/admin/").status_code == 302


def test_a_token_for_an_admin_role_needs_the_second_factor_too(client, settings):
    """Without it a password alone would open the API to a coordinator's account."""
    PASSWORD = "pw"  # tests.factories.UserFactory's
    user = factories.coordinator(username="tokenrole")
    url = "/api/v1/auth/token/"
    answer = client.post(url, {"username": "tokenrole", "password": PASSWORD}, content_type="application/json")
    assert answer.status_code == 403 and answer.json()["code"] == "second_factor_required"
    assert "enrol" in answer.json()["detail"]
    device, codes = enrolled(user)
    answer = client.post(url, {"username": "tokenrole", "password": PASSWORD}, content_type="application/json")
    assert answer.status_code == 403 and "otp" in answer.json()["detail"]
    answer = client.post(url, {"username": "tokenrole", "password": PASSWORD, "otp": "000000"}, content_type="application/json")
    assert answer.status_code in (400, 429) and "token" not in answer.json()
    time.sleep(1.2)  # the throttle's wait after one wrong code
    answer = client.post(url, {"username": "tokenrole", "password": PASSWORD, "otp": code_for(device, 1)}, content_type="application/json")
    assert answer.status_code == 200, answer.json()
    assert answer.json()["token"]
    # Staff need no second factor.
    factories.staff(username="tokenstaff")
    answer = client.post(url, {"username": "tokenstaff", "password": PASSWORD}, content_type="application/json")
    assert answer.status_code == 200


def test_the_server_operator_resets_a_locked_out_superuser_from_the_shell(client, superuser):
    """The only superuser lost phone and recovery codes: `manage.py reset_second_factor`."""
    from io import StringIO

    from django.conf import settings
    from django.core.management import CommandError, call_command

    device, _ = enrolled(superuser)
    with pytest.raises(CommandError, match="Say why"):
        call_command("reset_second_factor", superuser.username, "--reason", " ")
    with pytest.raises(CommandError, match="No user"):
        call_command("reset_second_factor", "nobody", "--reason", "x")
    assert second_factor.has_second_factor(superuser)
    out = StringIO()
    call_command(
        "reset_second_factor", superuser.username, "--reason", "Lost phone, ticket 7", stdout=out
    )
    assert "removed" in out.getvalue()
    assert not second_factor.has_second_factor(superuser)
    gone = TOTPDevice.history.get(id=device.pk, history_type="-")
    assert gone.history_user.username == settings.SYSTEM_USERNAME
    assert gone.history_change_reason == "Lost phone, ticket 7 (manage.py reset_second_factor)"
    # They are sent to enrol again, not let in.
    client.force_login(superuser)
    response = client.get("/admin/", follow=True)
    assert response.redirect_chain and response.request["PATH_INFO"] == ENROL

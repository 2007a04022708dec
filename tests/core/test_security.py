"""Sign-in protection (django-axes) on every door, and API throttling."""

import pytest
from rest_framework.throttling import SimpleRateThrottle

from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def victim(settings):
    settings.AXES_FAILURE_LIMIT = 3
    return factories.coordinator(username="victim")


def _guess(client, url, n, **extra):
    for _ in range(n):
        client.post(url, {"username": "victim", "password": "wrong"}, **extra)


def test_admin_sign_in_locks_after_repeated_failures(client, victim):
    _guess(client, "/admin/login/", 3)
    response = client.post("/admin/login/", {"username": "victim", "password": "pw"})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_self_service_sign_in_locks_after_repeated_failures(client, victim):
    _guess(client, "/accounts/login/", 3)
    response = client.post("/accounts/login/", {"username": "victim", "password": "pw"})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_self_service_sign_in_works_below_the_limit(client, victim):
    _guess(client, "/accounts/login/", 2)
    response = client.post("/accounts/login/", {"username": "victim", "password": "pw"})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(victim.pk)


def test_token_endpoint_locks_after_repeated_failures(client, victim):
    _guess(client, "/api/v1/auth/token/", 3)
    response = client.post("/api/v1/auth/token/", {"username": "victim", "password": "pw"})
    assert response.status_code == 429
    assert "token" not in response.json()


def test_lockout_is_per_username_and_address(client, victim):
    factories.staff(username="bystander")
    _guess(client, "/accounts/login/", 3)
    response = client.post("/accounts/login/", {"username": "bystander", "password": "pw"})
    assert response.status_code == 302


def test_api_throttles_a_client_that_sends_too_many_requests(api, staff_user, monkeypatch):
    monkeypatch.setattr(
        SimpleRateThrottle,
        "THROTTLE_RATES",
        {"user": "3/minute", "anon": "3/minute", "auth": "3/minute"},
    )
    client = api(staff_user)
    codes = [client.get("/api/v1/me/").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]


def test_token_endpoint_has_its_own_throttle(client, monkeypatch):
    monkeypatch.setattr(
        SimpleRateThrottle,
        "THROTTLE_RATES",
        {"user": "100/minute", "anon": "100/minute", "auth": "2/minute"},
    )
    factories.staff(username="tok")
    codes = [
        client.post("/api/v1/auth/token/", {"username": "tok", "password": "pw"}).status_code
        for _ in range(3)
    ]
    assert codes == [200, 200, 429]

"""Behind the load balancer: the lockout and the acknowledgements see the client, not the balancer."""

import pytest
from django.urls import reverse

from plans.models import Acknowledgement
from tests import factories
from tests.plans.factories import published_plan

pytestmark = pytest.mark.django_db

BALANCER = "10.0.0.1"


@pytest.fixture
def behind_balancer(settings):
    settings.AXES_FAILURE_LIMIT = 3
    settings.TRUSTED_PROXY_COUNT = 1
    return settings


@pytest.fixture
def victim():
    return factories.coordinator(username="victim")


def _sign_in(client, url, password, forwarded_for):
    return client.post(
        url,
        {"username": "victim", "password": password},
        REMOTE_ADDR=BALANCER,
        HTTP_X_FORWARDED_FOR=forwarded_for,
    )


@pytest.mark.parametrize("url", ["/admin/login/", "/accounts/login/", "/api/v1/auth/token/"])
def test_a_guesser_behind_the_balancer_does_not_lock_the_victim_out(
    client, behind_balancer, victim, url
):
    for _ in range(3):
        _sign_in(client, url, "wrong", "203.0.113.9")
    assert _sign_in(client, url, "pw", "203.0.113.9").status_code == 429
    response = _sign_in(client, url, "pw", "198.51.100.7")
    if url.startswith("/api/"):
        assert response.status_code == 200 and response.json()["token"]
    else:
        assert response.status_code == 302


def test_addresses_written_by_the_client_before_the_balancer_are_not_trusted(
    client, behind_balancer, victim
):
    # The guesser varies what it writes itself; the balancer appends the real address.
    for n in range(3):
        _sign_in(client, "/accounts/login/", "wrong", f"192.0.2.{n}, 203.0.113.9")
    response = _sign_in(client, "/accounts/login/", "pw", "192.0.2.200, 203.0.113.9")
    assert response.status_code == 429


def test_without_a_trusted_proxy_the_forwarded_header_is_ignored(client, settings, victim):
    settings.AXES_FAILURE_LIMIT = 3
    for n in range(3):
        _sign_in(client, "/accounts/login/", "wrong", f"192.0.2.{n}")
    assert _sign_in(client, "/accounts/login/", "pw", "192.0.2.99").status_code == 429


def test_an_acknowledgement_records_the_client_address_not_the_balancer(
    client, api, behind_balancer, approver
):
    _, version, _, _ = published_plan(approver=approver)
    on_site = factories.staff(username="site", first_name="Sam", last_name="Site")
    client.force_login(on_site)
    client.post(
        reverse("plans:acknowledge", args=[version.pk]),
        {
            "agree": "on",
            "password": "pw",
            "full_name": "Sam Site",
            "content_hash": version.content_hash,
        },
        REMOTE_ADDR=BALANCER,
        HTTP_X_FORWARDED_FOR="198.51.100.7",
    )
    over_api = factories.staff(username="integration", first_name="Ina", last_name="Tegra")
    api(over_api).post(
        f"/api/v1/plan-versions/{version.pk}/acknowledge/",
        {"password": "pw", "full_name": "Ina Tegra", "content_hash": version.content_hash},
        REMOTE_ADDR=BALANCER,
        HTTP_X_FORWARDED_FOR="forged, 198.51.100.8",
    )
    addresses = dict(Acknowledgement.objects.values_list("user__username", "ip_address"))
    assert addresses == {"site": "198.51.100.7", "integration": "198.51.100.8"}

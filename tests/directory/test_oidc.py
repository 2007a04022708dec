"""Sign-in through a real OpenID provider on loopback (tests/oidc_provider/server.js): the
code flow with state, nonce and PKCE, the token and userinfo endpoints, the person found by
their subject, groups from the claim on every sign-in, the linking rules, sign-out at the
provider and re-authentication."""

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client

from core.history import system_user
from core.roles import COMPLIANCE, COORDINATORS, STAFF
from directory import services
from directory.models import OidcIdentity
from tests import factories
from tests.oidc_support import through_provider

User = get_user_model()
pytestmark = pytest.mark.django_db


def sign_in(client, username, password, *, next_url="/", browser=None):
    """The whole journey: our sign-in button, the provider's form, back to our callback."""
    start = client.get("/oidc/authenticate/", {"next": next_url})
    assert start.status_code == 302
    back = through_provider(start["Location"], username, password, browser=browser)
    assert isinstance(back, str), getattr(back, "text", back)
    return client.get(back.removeprefix("http://testserver"))


def messages_of(response):
    return [str(message) for message in response.wsgi_request._messages]


def reasons(user):
    return [
        (row.history_user.username if row.history_user else None, row.history_change_reason)
        for row in user.history.order_by("history_id")
    ]


@pytest.fixture
def finance(db):
    return Group.objects.create(name="Finance")


def test_first_sign_in_creates_the_person_from_the_claims_with_their_groups(oidc, finance):
    client = Client()
    response = sign_in(client, "alex", "alex-pw", next_url="/plans/")
    assert response.status_code == 302 and response["Location"] == "/plans/"

    user = User.objects.get(username="alex")
    assert (user.first_name, user.last_name, user.email) == (
        "Alex",
        "Morgan",
        "alex.morgan@example.org",
    )
    assert not user.has_usable_password()
    assert set(user.groups.values_list("name", flat=True)) == {STAFF, "Finance"}
    identity = OidcIdentity.objects.get(user=user)
    assert (identity.issuer, identity.subject) == (oidc.issuer, "staff-sub-1")
    actor = f"oidc:{urlsplit(oidc.issuer).netloc}"
    assert reasons(user) == [
        (actor, "Created on first sign-in through the identity provider"),
        (actor, "Added by the identity provider's groups: Staff"),
        (actor, "Added by the identity provider's groups: Finance"),
    ]
    assert identity.history.get().history_user.username == actor
    assert User.objects.get(username=actor).is_active is False

    home = client.get("/")
    assert home.status_code == 200 and home.wsgi_request.user == user
    assert client.session["oidc_amr"] == ["pwd", "mfa"]
    assert client.session["oidc_subject"] == "staff-sub-1"
    assert client.session["oidc_issuer"] == oidc.issuer


def test_groups_follow_the_claim_at_every_sign_in(oidc, finance):
    night = Group.objects.create(name="Night shift")
    sign_in(Client(), "alex", "alex-pw")
    user = User.objects.get(username="alex")
    # An administrator gives a role by hand: the provider does not decide that group.
    user.groups.add(Group.objects.get(name=COMPLIANCE))

    oidc.set_account(
        "staff-sub-1",
        claims={
            "email": "alex.morgan@example.org",
            "email_verified": True,
            "given_name": "Alex",
            "family_name": "Morgan",
            "groups": ["all-staff", "night SHIFT", "Unknown group", "Coordinators"],
        },
    )
    sign_in(Client(), "alex", "alex-pw")
    # Same-name match is for groups SCIM may fill; a role group only through OIDC_GROUP_MAP.
    assert set(user.groups.values_list("name", flat=True)) == {STAFF, night.name, COMPLIANCE}
    actor = f"oidc:{urlsplit(oidc.issuer).netloc}"
    assert reasons(user)[-2:] == [
        (actor, "Removed by the identity provider's groups: Finance"),
        (actor, "Added by the identity provider's groups: Night shift"),
    ]

    oidc.set_account("staff-sub-1", claims={"email": "alex.morgan@example.org", "groups": []})
    sign_in(Client(), "alex", "alex-pw")
    assert set(user.groups.values_list("name", flat=True)) == {COMPLIANCE}


def test_no_groups_claim_leaves_the_groups_as_they_are(oidc, finance):
    sign_in(Client(), "alex", "alex-pw")
    oidc.set_account("staff-sub-1", claims={"email": "alex.morgan@example.org"})
    sign_in(Client(), "alex", "alex-pw")
    user = User.objects.get(username="alex")
    assert set(user.groups.values_list("name", flat=True)) == {STAFF, "Finance"}


def test_a_mapped_role_group_is_granted_and_taken_away_and_opens_the_admin(oidc):
    client = Client()
    sign_in(client, "casey", "casey-pw", next_url="/admin/")
    user = User.objects.get(username="casey")
    assert set(user.groups.values_list("name", flat=True)) == {STAFF, COORDINATORS}
    assert user.is_staff
    assert client.get("/admin/").status_code == 200

    oidc.set_account(
        "coord-sub-2",
        claims={"email": "casey@example.org", "email_verified": True, "groups": ["all-staff"]},
    )
    sign_in(Client(), "casey", "casey-pw")
    assert set(user.groups.values_list("name", flat=True)) == {STAFF}
    assert not user.has_perm("incidents.change_incident")


def test_the_subject_finds_the_person_whose_email_the_provider_changed(oidc):
    sign_in(Client(), "alex", "alex-pw")
    user = User.objects.get(username="alex")
    # Someone else here has the new address: the subject decides, not the email.
    factories.staff(username="other", email="alex.new@example.org")
    oidc.set_account(
        "staff-sub-1",
        claims={
            "email": "alex.new@example.org",
            "email_verified": True,
            "given_name": "Alexandra",
            "family_name": "Morgan",
            "groups": ["all-staff"],
        },
    )
    response = sign_in(Client(), "alex", "alex-pw")
    assert response.wsgi_request.user == user
    user.refresh_from_db()
    assert (user.first_name, user.email) == ("Alexandra", "alex.new@example.org")
    assert User.objects.filter(username__startswith="alex").count() == 1
    assert (
        "oidc:" + urlsplit(oidc.issuer).netloc,
        "Updated from the identity provider's claims",
    ) in reasons(user)


def test_a_local_account_is_linked_by_a_verified_email(oidc):
    local = factories.staff(username="amorgan", email="Alex.Morgan@example.org")
    response = sign_in(Client(), "alex", "alex-pw")
    assert response.wsgi_request.user == local
    assert User.objects.filter(email__iexact="alex.morgan@example.org").count() == 1
    identity = OidcIdentity.objects.get(user=local)
    assert identity.history.get().history_change_reason == (
        "Linked on first sign-in through the identity provider (verified email)"
    )
    local.refresh_from_db()
    assert local.username == "amorgan" and local.has_usable_password()


def test_an_unverified_email_links_nothing_and_signs_no_one_in(oidc):
    local = factories.staff(username="amorgan", email="alex.morgan@example.org")
    oidc.set_account(
        "staff-sub-1",
        claims={"email": "alex.morgan@example.org", "email_verified": False, "groups": []},
    )
    client = Client()
    response = sign_in(client, "alex", "alex-pw")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    assert "does not say the address is verified" in " ".join(messages_of(response))
    assert not OidcIdentity.objects.exists()
    assert client.get("/").status_code == 302
    assert User.objects.filter(email__iexact="alex.morgan@example.org").get() == local


def test_trusting_the_providers_email_links_when_it_sends_no_verified_claim(oidc, settings):
    settings.OIDC_TRUST_EMAIL = True
    local = factories.staff(username="amorgan", email="alex.morgan@example.org")
    oidc.set_account("staff-sub-1", claims={"email": "alex.morgan@example.org"})
    assert sign_in(Client(), "alex", "alex-pw").wsgi_request.user == local


def test_an_account_with_an_administrative_role_is_not_linked_unless_configured(oidc, settings):
    admin_account = factories.coordinator(
        username="ccoord", email="casey@example.org", first_name="Cas", last_name="Admin"
    )
    response = sign_in(Client(), "casey", "casey-pw")
    assert "administrative role" in " ".join(messages_of(response))
    assert not OidcIdentity.objects.exists()

    settings.OIDC_LINK_PRIVILEGED = True
    response = sign_in(Client(), "casey", "casey-pw")
    assert response.wsgi_request.user == admin_account
    admin_account.refresh_from_db()
    # Its name and email are the administrators' to change, not the provider's.
    assert (admin_account.first_name, admin_account.last_name) == ("Cas", "Admin")


def test_a_deactivated_person_cannot_sign_in(oidc):
    sign_in(Client(), "alex", "alex-pw")
    user = User.objects.get(username="alex")
    services.user_replace(actor=system_user(), user=user, is_active=False)
    client = Client()
    response = sign_in(client, "alex", "alex-pw")
    assert "deactivated" in " ".join(messages_of(response))
    assert client.get("/").status_code == 302
    assert not User.objects.get(username="alex").is_active


def test_a_deactivated_local_account_is_not_linked(oidc):
    factories.staff(username="amorgan", email="alex.morgan@example.org", is_active=False)
    response = sign_in(Client(), "alex", "alex-pw")
    assert "deactivated" in " ".join(messages_of(response))
    assert not OidcIdentity.objects.exists()


def test_a_callback_this_browser_did_not_start_is_refused(oidc):
    client = Client()
    start = client.get("/oidc/authenticate/")
    back = through_provider(start["Location"], "alex", "alex-pw")
    stranger = Client()
    response = stranger.get(back.removeprefix("http://testserver"))
    assert response["Location"] == "/accounts/login/"
    assert stranger.get("/").status_code == 302
    # The real browser's callback works once; the same code and state again do not.
    assert client.get(back.removeprefix("http://testserver"))["Location"] == "/"
    client.post("/accounts/logout/")
    assert client.get(back.removeprefix("http://testserver"))["Location"] == "/accounts/login/"
    assert not User.objects.filter(username="alex").exclude(oidc_identities__isnull=False).exists()


def test_the_authorization_request_carries_state_nonce_and_pkce(oidc):
    query = parse_qs(urlsplit(Client().get("/oidc/authenticate/")["Location"]).query)
    assert query["response_type"] == ["code"] and query["client_id"] == [oidc.client_id]
    assert query["state"][0] and query["nonce"][0] and query["code_challenge_method"] == ["S256"]
    assert query["redirect_uri"] == ["http://testserver/oidc/callback/"]
    assert query["scope"] == ["openid email profile groups"]


def test_sign_out_ends_the_providers_session_too(oidc):
    client = Client()
    browser = requests.Session()
    sign_in(client, "alex", "alex-pw", browser=browser)
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{oidc.issuer}/session/end"
    query = parse_qs(target.query)
    assert query["post_logout_redirect_uri"] == ["http://testserver/accounts/login/"]
    assert query["client_id"] == [oidc.client_id] and query["id_token_hint"][0]
    assert client.get("/").status_code == 302  # our session has ended
    # The provider takes the request: it asks the person to confirm the sign-out.
    confirm = browser.get(response["Location"], timeout=10)
    assert confirm.status_code == 200 and "logoutForm" in confirm.text


def test_admin_sign_out_goes_to_the_provider_and_back_to_the_admin(oidc):
    client = Client()
    sign_in(client, "casey", "casey-pw", next_url="/admin/")
    response = client.post("/admin/logout/")
    query = parse_qs(urlsplit(response["Location"]).query)
    assert response["Location"].startswith(f"{oidc.issuer}/session/end?")
    assert query["post_logout_redirect_uri"] == ["http://testserver/admin/login/"]


def test_a_password_session_signs_out_as_before(oidc):
    factories.staff(username="pat")
    client = Client()
    client.login(username="pat", password="pw")
    response = client.post("/accounts/logout/")
    assert response["Location"] == "/accounts/login/"
    assert client.get("/").status_code == 302


def test_reauthentication_sets_the_signing_time_for_the_same_subject(oidc):
    client = Client()
    browser = requests.Session()
    sign_in(client, "alex", "alex-pw", browser=browser)
    assert "signing_reauth_at" not in client.session
    start = client.get("/oidc/reauth/", {"next": "/plans/"})
    query = parse_qs(urlsplit(start["Location"]).query)
    assert query["prompt"] == ["login"] and query["max_age"] == ["0"]
    # The provider asks for the password again although its session is open.
    back = through_provider(start["Location"], "alex", "alex-pw", browser=browser)
    response = client.get(back.removeprefix("http://testserver"))
    assert response["Location"] == "/plans/"
    at = datetime.fromisoformat(client.session["signing_reauth_at"])
    assert at.tzinfo is not None and at.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - at) < timedelta(minutes=1)
    assert client.session["oidc_amr"] == ["pwd", "mfa"]


def test_reauthentication_as_someone_else_is_refused(oidc):
    client = Client()
    browser = requests.Session()
    sign_in(client, "alex", "alex-pw", browser=browser)
    start = client.get("/oidc/reauth/", {"next": "/plans/"})
    back = through_provider(start["Location"], "casey", "casey-pw", browser=browser)
    assert isinstance(back, str), (back.status_code, back.text[:2000])
    response = client.get(back.removeprefix("http://testserver"))
    assert response["Location"] == "/plans/"
    assert "someone else" in " ".join(messages_of(response))
    assert "signing_reauth_at" not in client.session
    assert response.wsgi_request.user.username == "alex"


def test_reauthentication_needs_a_linked_account(oidc):
    factories.staff(username="pat")
    client = Client()
    client.login(username="pat", password="pw")
    response = client.get("/oidc/reauth/", {"next": "https://elsewhere.example/"})
    assert response["Location"] == "/"
    assert "not linked" in " ".join(messages_of(response))
    assert Client().get("/oidc/reauth/")["Location"].startswith("/accounts/login/")


def test_the_sign_in_pages_offer_the_provider_only_when_configured(oidc, settings, client):
    assert "Sign in with Example SSO" in client.get("/accounts/login/").content.decode()
    assert "Sign in with Example SSO" in client.get("/admin/login/").content.decode()
    settings.OIDC_ISSUER = ""
    settings.OIDC_RP_CLIENT_ID = ""
    assert "Sign in with" not in client.get("/accounts/login/").content.decode()
    assert "Sign in with" not in client.get("/admin/login/").content.decode()
    assert client.get("/oidc/authenticate/").status_code == 404
    assert client.get("/oidc/callback/?code=x&state=y").status_code == 404


def test_a_password_form_carrying_a_code_signs_no_one_in_through_the_provider(oidc):
    response = Client().post(
        "/accounts/login/?code=abc&state=def", {"username": "alex", "password": "x"}
    )
    assert response.status_code == 200
    assert not User.objects.filter(username="alex").exists()


def test_an_administrator_links_an_account_the_sign_in_would_not(oidc):
    from django.core.management import call_command

    admin_account = factories.coordinator(username="ccoord", email="casey@example.org")
    call_command("oidc_link", "ccoord", "coord-sub-2")
    assert sign_in(Client(), "casey", "casey-pw").wsgi_request.user == admin_account
    identity = OidcIdentity.objects.get(user=admin_account)
    assert identity.history.get().history_change_reason == "Linked by an administrator"


def test_a_next_elsewhere_lands_on_the_home_page(oidc):
    response = sign_in(Client(), "alex", "alex-pw", next_url="https://elsewhere.example/")
    assert response["Location"] == "/"


def test_an_unreachable_provider_is_a_message_not_an_error(oidc, settings):
    settings.OIDC_ISSUER = "http://127.0.0.1:9"
    response = Client().get("/oidc/authenticate/")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    assert "could not be reached" in " ".join(messages_of(response))


def test_a_wrong_client_secret_signs_no_one_in(oidc, settings):
    start = Client()
    first = start.get("/oidc/authenticate/")
    back = through_provider(first["Location"], "alex", "alex-pw")
    settings.OIDC_RP_CLIENT_SECRET = "not-the-secret"
    response = start.get(back.removeprefix("http://testserver"))
    assert response["Location"] == "/accounts/login/"
    assert "did not work" in " ".join(messages_of(response))
    assert not User.objects.filter(username="alex").exists()


def test_the_admin_signs_a_password_session_out_as_before(oidc):
    factories.coordinator(username="cora")
    client = Client()
    client.login(username="cora", password="pw")
    response = client.post("/admin/logout/")
    assert response["Location"] == "/accounts/login/"  # LOGOUT_REDIRECT_URL, as without OIDC
    assert client.get("/admin/").status_code == 302
    assert client.get("/admin/logout/").status_code == 405


ISSUER = "https://login.example.org"


def test_odd_claims_are_refused_or_ignored_not_errors(settings, finance):
    settings.OIDC_GROUP_MAP = {"all-staff": ["Staff"]}
    with pytest.raises(services.SignInRefused):
        services.oidc_sign_in(issuer=ISSUER, claims={"sub": "x" * 256})
    with pytest.raises(services.SignInRefused):
        services.oidc_sign_in(issuer=ISSUER, claims={"sub": 7})
    user = services.oidc_sign_in(
        issuer=ISSUER,
        claims={
            "sub": "odd-1",
            "email": "not an address",
            "given_name": "A\u200bna\x00" + "n" * 300,
            "preferred_username": "has spaces and / slashes",
            "groups": [1, None, {"name": "Finance"}, "  finance ", ["Staff"]],
        },
    )
    assert user.email == "" and user.first_name.startswith("Anan") and len(user.first_name) <= 150
    assert user.username.startswith("oidc-")
    assert list(user.groups.values_list("name", flat=True)) == ["Finance"]


def test_a_new_persons_username_never_takes_over_an_existing_one(settings):
    existing = factories.staff(username="alex", email="someone.else@example.org")
    user = services.oidc_sign_in(
        issuer=ISSUER,
        claims={"sub": "s-1", "preferred_username": "ALEX", "email": "alex@example.org"},
    )
    assert user != existing and user.username == "ALEX-2"
    existing.refresh_from_db()
    assert existing.email == "someone.else@example.org"

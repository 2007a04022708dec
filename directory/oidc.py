"""Sign-in through the organisation's OpenID provider: the protocol side, on mozilla-django-oidc.

Why mozilla-django-oidc and not django-allauth: we need one provider, the authorization code
flow and nothing else. mozilla-django-oidc is that (a backend and three views, state, nonce
and PKCE kept in the session, ID tokens checked against the provider's keys) and lets us
decide who the person is in our own service (`directory.services.oidc_sign_in`). allauth
brings its own account model, email-address table, sign-up and login pages and adapters
beside Django's, all of which we would have to switch off or keep consistent with SCIM.

What this module adds to the library:
- the provider's endpoints from its discovery document (`OIDC_ISSUER`), unless given one by one;
- the ID token's issuer and audience checked (the library checks signature, expiry, nonce);
- the userinfo answer must be about the ID token's subject; the claims are both merged;
- the person is found, created, linked and given groups by `oidc_sign_in`, never by email
  alone (the library's default).

The views are in directory/oidc_views.py.
"""

import logging

import requests
from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured, SuspiciousOperation
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.utils import import_from_settings

from directory import services

logger = logging.getLogger(__name__)

DISCOVERY_CACHE_SECONDS = 3600
# mozilla-django-oidc setting -> the discovery document's key.
ENDPOINTS = {
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
    "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
    "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
    "OIDC_OP_END_SESSION_ENDPOINT": "end_session_endpoint",
}


def enabled():
    """Whether sign-in through a provider is configured (settings.OIDC_ENABLED's rule)."""
    return bool(
        settings.OIDC_RP_CLIENT_ID
        and (settings.OIDC_ISSUER or settings.OIDC_OP_AUTHORIZATION_ENDPOINT)
    )


def discovery():
    """The issuer's discovery document ({} without OIDC_ISSUER), cached for an hour. Its
    `issuer` must be OIDC_ISSUER exactly (OpenID Connect Discovery §4.3)."""
    issuer = settings.OIDC_ISSUER
    if not issuer:
        return {}
    key = f"directory.oidc.discovery:{issuer}"
    document = cache.get(key)
    if document is None:
        response = requests.get(
            f"{issuer.rstrip('/')}/.well-known/openid-configuration",
            timeout=settings.OIDC_TIMEOUT,
        )
        response.raise_for_status()
        document = response.json()
        if document.get("issuer") != issuer:
            raise ImproperlyConfigured(
                f"The discovery document of {issuer} names another issuer: "
                f"{document.get('issuer')!r}."
            )
        cache.set(key, document, DISCOVERY_CACHE_SECONDS)
    return document


def setting(attr, *args):
    """mozilla-django-oidc's settings, with endpoints not set one by one from discovery."""
    if attr in ENDPOINTS:
        value = getattr(settings, attr, "") or discovery().get(ENDPOINTS[attr], "")
        return "" if value == "none" else value
    return import_from_settings(attr, *args)


class OidcBackend(OIDCAuthenticationBackend):
    """The provider's ID token and userinfo, checked; the person from `oidc_sign_in`.

    Listed in AUTHENTICATION_BACKENDS (when OIDC is configured) so a session signed in
    through it stays signed in; `authenticate` itself answers no one: a sign-in is the
    callback view calling `sign_in`, never a password form that happens to carry `?code=`.
    """

    get_settings = staticmethod(setting)

    def __init__(self, *args, **kwargs):
        # Django builds a backend on every request of a session signed in through it: the
        # provider's endpoints are read when a sign-in needs them, not then.
        from django.contrib.auth import get_user_model

        self.UserModel = get_user_model()

    def authenticate(self, request, **credentials):
        return None

    def get_user(self, user_id):
        # ModelBackend's: a deactivated person's session ends (the library's would keep it).
        return ModelBackend.get_user(self, user_id)

    # Permissions are answered by core.auth.CachedPermissionBackend alone; asking the
    # database again here would undo its cache.
    def get_user_permissions(self, user_obj, obj=None):
        return set()

    def get_group_permissions(self, user_obj, obj=None):
        return set()

    def get_all_permissions(self, user_obj, obj=None):
        return set()

    def has_perm(self, user_obj, perm, obj=None):
        return False

    def has_module_perms(self, user_obj, app_label):
        return False

    def sign_in(self, request, *, nonce, code_verifier):
        """The person signed in by the code in `request` (None if the library finds nothing
        to exchange); `self.claims` holds the claims. Refusals raise SignInRefused."""
        OIDCAuthenticationBackend.__init__(self)
        self.claims = None
        return OIDCAuthenticationBackend.authenticate(
            self, request, nonce=nonce, code_verifier=code_verifier
        )

    def claims_for_code(self, request, *, nonce, code_verifier):
        """Only the checked claims of the code in `request` (a re-authentication)."""
        self._claims_only = True
        try:
            self.sign_in(request, nonce=nonce, code_verifier=code_verifier)
        finally:
            self._claims_only = False
        return self.claims

    def verify_token(self, token, **kwargs):
        payload = super().verify_token(token, **kwargs)
        if "nonce" not in kwargs:  # a signed userinfo answer: its subject is checked below
            return payload
        issuer = settings.OIDC_ISSUER
        if issuer and payload.get("iss") != issuer:
            raise SuspiciousOperation("The ID token was issued by another issuer.")
        if not payload.get("iss"):
            raise SuspiciousOperation("The ID token names no issuer.")
        audience = payload.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if self.OIDC_RP_CLIENT_ID not in audiences:
            raise SuspiciousOperation("The ID token is for another client.")
        if len(audiences) > 1 and payload.get("azp") != self.OIDC_RP_CLIENT_ID:
            raise SuspiciousOperation("The ID token was issued to another party (azp).")
        return payload

    def get_userinfo(self, access_token, id_token, payload):
        """The ID token's claims with the userinfo endpoint's (OpenID Connect Core §5.3.2:
        the userinfo `sub` must be the ID token's). The protocol claims (iss, sub, amr,
        auth_time, acr) are the ID token's."""
        claims = {}
        if self.OIDC_OP_USER_ENDPOINT and access_token:
            claims = super().get_userinfo(access_token, id_token, payload)
            if claims.get("sub") != payload.get("sub"):
                raise SuspiciousOperation("The userinfo answer is about another subject.")
        return {**payload, **claims, **{key: payload[key] for key in PROTOCOL if key in payload}}

    def get_or_create_user(self, access_token, id_token, payload):
        self.claims = self.get_userinfo(access_token, id_token, payload)
        if getattr(self, "_claims_only", False):
            return None
        return services.oidc_sign_in(issuer=self.claims["iss"], claims=self.claims)


PROTOCOL = ("iss", "sub", "aud", "azp", "amr", "acr", "auth_time", "nonce", "exp", "iat")


def sign_in_context(request):
    """Template context processor: whether the sign-in pages offer the provider's button."""
    return {"oidc_sign_in": enabled(), "oidc_provider_name": settings.OIDC_PROVIDER_NAME}

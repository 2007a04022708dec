"""The pages of sign-in through the OpenID provider: start, callback, re-authentication, sign-out.

Routes (directory/oidc_urls.py, mounted at /oidc/): `authenticate/` (name
`oidc_authentication_init`, `?next=`), `callback/` (`oidc_authentication_callback`: the
redirect URI to register with the provider), `reauth/` (`oidc-reauth`, `?next=`). Sign-out
is `sign_out` at /accounts/logout/ and `admin_sign_out` at /admin/logout/. With OIDC not
configured the first three answer 404 and sign-out is Django's.

Session keys other parts read after a sign-in through the provider:
- `oidc_amr`: the ID token's `amr` (authentication methods, e.g. ["pwd", "mfa"]), a list;
- `oidc_issuer`, `oidc_subject`: who the provider said this is;
- `oidc_auth_time`: when the provider last authenticated them (seconds since the epoch);
- `signing_reauth_at`: set by `reauth` when the provider authenticated the same subject
  afresh (ISO 8601, UTC).
"""

import logging
import time
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from django.conf import settings
from django.contrib import admin, auth, messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LogoutView
from django.core.exceptions import ImproperlyConfigured, SuspiciousOperation
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import resolve_url
from django.urls import reverse
from django.utils.decorators import method_decorator
from mozilla_django_oidc.views import (
    OIDCAuthenticationCallbackView,
    OIDCAuthenticationRequestView,
    get_next_url,
)

from core.errors import DomainError
from directory import oidc
from directory.models import OidcIdentity

logger = logging.getLogger(__name__)

BACKEND = "directory.oidc.OidcBackend"
UNREACHABLE = "The identity provider could not be reached; try again, or sign in with a password."
FAILED = "Signing in through the identity provider did not work; please try again."
# A provider's clock and ours may differ a little: auth_time this much before the
# re-authentication began still counts as fresh.
REAUTH_CLOCK_SKEW_SECONDS = 5


def _require_enabled():
    if not oidc.enabled():
        raise Http404("Sign-in through an identity provider is not configured.")


class SignIn(OIDCAuthenticationRequestView):
    """Sends the person to the provider (authorization code flow with state, nonce, PKCE)."""

    get_settings = staticmethod(oidc.setting)

    def __init__(self, *args, **kwargs):
        # The library reads the endpoint when the view is built; ours is read per request.
        super(OIDCAuthenticationRequestView, self).__init__(*args, **kwargs)

    def dispatch(self, request, *args, **kwargs):
        _require_enabled()
        try:
            self.OIDC_OP_AUTH_ENDPOINT = oidc.setting("OIDC_OP_AUTHORIZATION_ENDPOINT")
        except (requests.RequestException, ValueError, ImproperlyConfigured):
            logger.exception("OpenID provider discovery failed")
            messages.error(request, UNREACHABLE)
            return HttpResponseRedirect(resolve_url(settings.LOGIN_URL))
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        return super().dispatch(request, *args, **kwargs)


@method_decorator(login_required, name="dispatch")
class Reauthenticate(SignIn):
    """`/oidc/reauth/?next=`: the provider authenticates the signed-in person again
    (prompt=login, max_age=0); back in the callback, the same subject with a fresh
    auth_time sets `signing_reauth_at`."""

    def get_extra_params(self, request):
        return {**super().get_extra_params(request), "prompt": "login", "max_age": "0"}

    def get(self, request):
        target = get_next_url(request, "next") or resolve_url(settings.LOGIN_REDIRECT_URL)
        issuer = request.session.get("oidc_issuer") or settings.OIDC_ISSUER
        subject = (
            OidcIdentity.objects.filter(user=request.user, issuer=issuer)
            .values_list("subject", flat=True)
            .first()
        )
        if subject is None:
            messages.error(request, "Your account is not linked to the identity provider.")
            return HttpResponseRedirect(target)
        response = super().get(request)
        state = parse_qs(urlsplit(response["Location"]).query)["state"][0]
        request.session["oidc_states"][state].update(
            purpose="reauth",
            started=int(time.time()),
            next=target,
            user=request.user.pk,
            issuer=issuer,
            subject=subject,
        )
        request.session.modified = True
        return response


class Callback(OIDCAuthenticationCallbackView):
    """The provider's redirect back: a sign-in, or the end of a re-authentication."""

    get_settings = staticmethod(oidc.setting)

    def get(self, request):
        _require_enabled()
        states = request.session.get("oidc_states")
        state = request.GET.get("state")
        if not isinstance(states, dict) or state not in states:
            # No flow of this browser's started there (an old tab, a replayed redirect).
            return self.refuse(FAILED)
        entry = states.pop(state)
        request.session.modified = True
        request.session.save()
        if request.GET.get("error") or "code" not in request.GET:
            return self.refuse("The identity provider did not sign you in.", entry)
        backend = oidc.OidcBackend()
        try:
            if entry.get("purpose") == "reauth":
                claims = backend.claims_for_code(
                    request, nonce=entry.get("nonce"), code_verifier=entry.get("code_verifier")
                )
                return self.reauthenticated(entry, claims)
            self.user = backend.sign_in(
                request, nonce=entry.get("nonce"), code_verifier=entry.get("code_verifier")
            )
        except DomainError as refusal:
            return self.refuse(str(refusal.message), entry)
        except (SuspiciousOperation, requests.RequestException, ValueError, KeyError) as exc:
            logger.warning("OpenID sign-in failed: %s", exc)
            return self.refuse(FAILED, entry)
        if self.user is None or not self.user.is_active:
            return self.refuse(FAILED, entry)
        claims = backend.claims
        if request.user.is_authenticated and request.user != self.user:
            auth.logout(request)  # another person's session: never carried into this one
        auth.login(request, self.user, backend=BACKEND)
        amr = claims.get("amr")
        request.session["oidc_amr"] = [str(m) for m in amr] if isinstance(amr, list) else []
        request.session["oidc_issuer"] = claims["iss"]
        request.session["oidc_subject"] = claims["sub"]
        request.session["oidc_auth_time"] = claims.get("auth_time")
        next_url = request.session.pop("oidc_login_next", None)
        return HttpResponseRedirect(next_url or resolve_url(settings.LOGIN_REDIRECT_URL))

    def reauthenticated(self, entry, claims):
        request = self.request
        auth_time = claims.get("auth_time") if claims else None
        fresh = (
            isinstance(auth_time, int | float)
            and auth_time >= entry["started"] - REAUTH_CLOCK_SKEW_SECONDS
        )
        same = (
            request.user.is_authenticated
            and request.user.pk == entry.get("user")
            and claims.get("iss") == entry.get("issuer")
            and claims.get("sub") == entry.get("subject")
        )
        if not same:
            return self.refuse("The identity provider signed in someone else.", entry)
        if not fresh:
            return self.refuse("The identity provider did not ask for your sign-in again.", entry)
        request.session["signing_reauth_at"] = datetime.now(UTC).isoformat()
        amr = claims.get("amr")
        request.session["oidc_amr"] = [str(m) for m in amr] if isinstance(amr, list) else []
        request.session["oidc_auth_time"] = auth_time
        return HttpResponseRedirect(entry["next"])

    def refuse(self, message, entry=None):
        messages.error(self.request, message)
        if entry and entry.get("purpose") == "reauth":
            return HttpResponseRedirect(entry["next"])
        return HttpResponseRedirect(resolve_url(settings.LOGIN_URL))


def _provider_sign_out(request, after):
    """The provider's end-session URL for this session (RP-initiated logout), or None when
    the session was not signed in through the provider or it advertises no such endpoint."""
    id_token = request.session.get("oidc_id_token")
    if not (oidc.enabled() and id_token):
        return None
    try:
        endpoint = oidc.setting("OIDC_OP_END_SESSION_ENDPOINT")
    except (requests.RequestException, ValueError, ImproperlyConfigured):
        logger.warning("OpenID provider discovery failed at sign-out")
        return None
    if not endpoint:
        return None
    query = urlencode(
        {
            "id_token_hint": id_token,
            "post_logout_redirect_uri": request.build_absolute_uri(after),
            "client_id": settings.OIDC_RP_CLIENT_ID,
        }
    )
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"


def _sign_out(request, after, otherwise):
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    provider = _provider_sign_out(request, after)
    if provider is None:
        return otherwise(request)
    auth.logout(request)
    return HttpResponseRedirect(provider)


def sign_out(request):
    """The self-service sign-out: ends our session, then the provider's where it can."""
    return _sign_out(request, resolve_url(settings.LOGOUT_REDIRECT_URL), LogoutView.as_view())


def admin_sign_out(request):
    """The admin's sign-out: as `sign_out`, back to the admin's sign-in page."""
    return _sign_out(request, reverse("admin:login"), admin.site.logout)

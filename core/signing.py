"""Electronic signatures (21 CFR 11.100, 11.200): proof that the signer authenticated again
at the moment of signing.

A `SignerProof` says who signed, how they proved it, and when. A face obtains one only from
`authenticate_signer(request, user, password)`:

- with a password: django.contrib.auth.authenticate(request=..., username, password), so
  django-axes counts a wrong one exactly like a failed sign-in and a locked-out username is
  refused even with the right password (method "password");
- without one, for accounts that sign in through the OpenID provider: a fresh
  re-authentication at the provider, i.e. the session's `signing_reauth_at` (ISO 8601, UTC,
  set by the `/oidc/reauth/` view, URL name `oidc-reauth`) no older than
  settings.SIGNING_REAUTH_SECONDS (default 300) (method "oidc").

`system_proof(user, reason)` is for demo data, imports and commands only: it is marked
method "system" and no face (view, admin, API) may call it. Services that take a signature
check the proof names the actor (`check_proof`).
"""

import dataclasses
import datetime

from django.conf import settings
from django.contrib.auth import authenticate
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from .errors import DomainError

REAUTH_SESSION_KEY = "signing_reauth_at"
DEFAULT_REAUTH_SECONDS = 300

METHOD_PASSWORD = "password"
METHOD_OIDC = "oidc"
METHOD_SYSTEM = "system"
METHODS = (
    (METHOD_PASSWORD, "Password re-entered"),
    (METHOD_OIDC, "Re-authenticated at the identity provider"),
    (METHOD_SYSTEM, "System (demo data, import or command)"),
)


class SignatureRefused(DomainError, http_status=403, code="signature_refused"):
    """Your signature could not be verified: re-enter your password."""


@dataclasses.dataclass(frozen=True)
class SignerProof:
    """Who proved their identity for a signature, how ("password", "oidc", "system"), when."""

    user: object
    method: str
    at: datetime.datetime
    reason: str = ""


def reauth_seconds():
    return int(getattr(settings, "SIGNING_REAUTH_SECONDS", DEFAULT_REAUTH_SECONDS))


def reauth_url(user=None):
    """The provider re-authentication page (URL name "oidc-reauth"), when sign-in through
    an identity provider is set up; None otherwise. Pages offer it beside the password."""
    try:
        return reverse("oidc-reauth")
    except NoReverseMatch:
        return None


def _fresh_reauth(request, now):
    session = getattr(request, "session", None)
    value = session.get(REAUTH_SESSION_KEY) if session is not None else None
    if not isinstance(value, str):
        return False
    try:
        at = datetime.datetime.fromisoformat(value)
    except ValueError:
        return False
    if timezone.is_naive(at):
        at = timezone.make_aware(at, datetime.UTC)
    return datetime.timedelta(0) <= now - at <= datetime.timedelta(seconds=reauth_seconds()) or (
        # a clock a second or two ahead of ours is still a fresh sign-in
        datetime.timedelta(seconds=-5) <= now - at < datetime.timedelta(0)
    )


def authenticate_signer(request, user, password=None):
    """A SignerProof for `user` signing now, or SignatureRefused.

    `request` is the Django (or DRF) request the signature arrives on; axes reads its
    address. The password is checked for this very user: someone else's password, a
    locked-out username or a deactivated account are refused.
    """
    django_request = getattr(request, "_request", request)
    now = timezone.now()
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        raise SignatureRefused("Sign in to sign.", field="password")
    if isinstance(password, str) and password:
        if "\x00" in password or len(password) > 4096:
            raise SignatureRefused("That password is not right.", field="password")
        signer = authenticate(
            request=django_request, username=user.get_username(), password=password
        )
        if getattr(django_request, "axes_locked_out", False):
            # Axes recorded the lockout (sign-in stays locked); the signature's answer is
            # ours, 403 with a message, not the middleware's sign-in lockout page.
            django_request.axes_locked_out = False
            raise SignatureRefused(
                "Too many wrong passwords: signing and sign-in are locked for a while.",
                field="password",
            )
        if signer is None or signer.pk != user.pk:
            raise SignatureRefused("That password is not right.", field="password")
        return SignerProof(user=user, method=METHOD_PASSWORD, at=now)
    if _fresh_reauth(request, now):
        return SignerProof(user=user, method=METHOD_OIDC, at=now)
    url = reauth_url(user)
    if not user.has_usable_password() and url:
        raise SignatureRefused(
            f"Sign in again at your identity provider ({url}) and sign within "
            f"{reauth_seconds() // 60} minutes.",
            field="password",
        )
    raise SignatureRefused("Re-enter your password to sign.", field="password")


def system_proof(user, reason):
    """A proof for records made by the system on `user`'s behalf (demo data, imports,
    commands), never from a request; the signature shows method "system"."""
    if not reason:
        raise ValueError("A system signature says why it was made.")
    return SignerProof(user=user, method=METHOD_SYSTEM, at=timezone.now(), reason=reason)


def check_proof(proof, actor):
    """Refuse a signature whose proof is missing or names someone other than the actor."""
    if not isinstance(proof, SignerProof):
        raise SignatureRefused("A signature needs the signer to re-enter their password.")
    if proof.user is None or actor is None or proof.user.pk != actor.pk:
        raise SignatureRefused("The signature's proof is for another person.")
    return proof

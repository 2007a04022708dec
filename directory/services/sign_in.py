"""Sign-in through an OpenID provider (OIDC): what a sign-in may do to our people."""

import hashlib
import logging
import re
import unicodedata
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import Conflict, InvalidInput, NotPermitted
from core.history import system_user
from core.services import audited_save, lock
from directory.models import OidcIdentity
from directory.services import OIDC_SERVICE_USER_PREFIX, SERVICE_USER_PREFIX, _save_user

User = get_user_model()
logger = logging.getLogger(__name__)

# -- sign-in through an OpenID provider (OIDC) -------------------------------------------
# The face (directory/oidc.py) checks the provider's tokens; what a sign-in may do to our
# people is decided here: which account the identity is, whether it may sign in, what the
# provider's claims change, which groups it puts the person in. Every change is recorded
# with the provider's service user (`oidc:<issuer host>`) as the actor. README, "Sign-in
# through an OpenID provider", says the same for administrators.


class SignInRefused(NotPermitted):
    """The provider vouched for someone we will not sign in (the message says why)."""


def oidc_service_user(issuer):
    """The inactive service user `oidc:<issuer host>` that acts for the provider `issuer`."""
    host = urlsplit(issuer).netloc or issuer
    username = f"{OIDC_SERVICE_USER_PREFIX}{host}"[: User._meta.get_field("username").max_length]
    user = User.objects.filter(username=username).first()
    if user is None:
        user = User(username=username, first_name=f"OpenID {host}"[:150], is_active=False)
        user.set_unusable_password()
        audited_save(
            user, actor=system_user(), reason="OpenID provider configured", exclude=["username"]
        )
    return user


def _claim_text(claims, name, limit):
    value = claims.get(name)
    if not isinstance(value, str):
        return ""
    return "".join(char for char in value if unicodedata.category(char) not in ("Cc", "Cf"))[
        :limit
    ].strip()


def _profile(claims):
    """first_name, last_name, email as the claims give them (what is absent stays as it is)."""
    profile = {}
    for field, claim in (("first_name", "given_name"), ("last_name", "family_name")):
        if claim in claims:
            profile[field] = _claim_text(claims, claim, 150)
    if "email" in claims:
        email = _claim_text(claims, "email", 254)
        try:
            User._meta.get_field("email").run_validators(email)
        except ValidationError:
            email = ""
        if email:
            profile["email"] = email
    return profile


def _email_verified(claims):
    """Whether the provider vouches for the email: `email_verified: true`, or, for providers
    that never send the claim (Microsoft Entra ID), OIDC_TRUST_EMAIL. An explicit false is
    never trusted."""
    if claims.get("email_verified") is True:
        return True
    return "email_verified" not in claims and settings.OIDC_TRUST_EMAIL


_USERNAME_OK = UnicodeUsernameValidator()


def _new_username(claims, subject):
    """A free username for a person the provider signs in first: their preferred_username,
    else their email, else `oidc-<subject>`; suffixed with a number when taken. Never used to
    find an account (an identity is matched by its subject only)."""
    limit = User._meta.get_field("username").max_length
    for claim in ("preferred_username", "email"):
        base = _claim_text(claims, claim, limit - 4)
        try:
            _USERNAME_OK(base)
        except ValidationError:
            continue
        if base:
            break
    else:
        base = f"oidc-{hashlib.sha256(subject.encode()).hexdigest()[:16]}"
    candidate, number = base, 1
    while User.objects.filter(username__iexact=candidate).exists():
        number += 1
        candidate = f"{base}-{number}"
    return candidate


def _refuse_inactive(user):
    if not user.is_active:
        raise SignInRefused("This account is deactivated; it cannot sign in.")


def _find_account_to_link(claims, issuer):
    """The local account a first sign-in takes over, or None for a new account.

    Only by an email the provider vouches for (`_email_verified`), only one account with it,
    never an account linked to another identity at this provider, and never an account with
    an administrative role (directory.queries.is_privileged) unless OIDC_LINK_PRIVILEGED is on.
    Otherwise the sign-in is refused: an administrator links the account (`manage.py
    oidc_link`)."""
    from directory.queries import is_privileged  # queries imports this module

    email = _profile(claims).get("email")
    if not email:
        return None
    matches = list(
        User.objects.filter(email__iexact=email)
        .exclude(username__startswith=SERVICE_USER_PREFIX)
        .exclude(username__startswith=OIDC_SERVICE_USER_PREFIX)
        .exclude(username=settings.SYSTEM_USERNAME)[:2]
    )
    if not matches:
        return None
    if len(matches) > 1:
        raise SignInRefused(
            "Several accounts here have your email address; an administrator must link yours."
        )
    account = matches[0]
    if not _email_verified(claims):
        raise SignInRefused(
            "An account here has your email address, but your identity provider does not say "
            "the address is verified; sign in with your password or ask an administrator to "
            "link your account."
        )
    _refuse_inactive(account)
    if OidcIdentity.objects.filter(issuer=issuer, user=account).exists():
        raise SignInRefused(
            "The account with your email address is linked to another identity at this "
            "provider; ask an administrator."
        )
    if is_privileged(account) and not settings.OIDC_LINK_PRIVILEGED:
        raise SignInRefused(
            "The account with your email address has an administrative role; an administrator "
            "must link it to your identity."
        )
    return account


def _update_profile(user, claims, *, actor):
    """Names and email from the claims, except for an account with an administrative role,
    whose details are the administrators' (as over SCIM)."""
    from directory.queries import is_privileged

    if is_privileged(user):
        return
    profile = _profile(claims)
    changed = [name for name, value in profile.items() if getattr(user, name) != value]
    if changed:
        for name in changed:
            setattr(user, name, profile[name])
        _save_user(user, actor=actor, reason="Updated from the identity provider's claims")


def group_key(name):
    """A group's name as compared with the provider's group names: normalised, casefolded."""
    name = unicodedata.normalize("NFKC", name or "")
    return re.sub(r"\s+", " ", name).strip().casefold()


def oidc_groups_wanted(values, *, governed_by_name=None):
    """(the groups `values` put a person in, the groups the provider decides).

    The provider decides the groups SCIM may fill (directory.queries.manageable_groups: Staff
    and every group granting no permission), matched by name, and the targets of
    OIDC_GROUP_MAP (any group, role groups included: the administrators named them), matched
    by the provider's group name or id. Other groups (a role given by hand) are left alone.
    """
    from directory.queries import manageable_groups

    manageable = list(manageable_groups())
    group_map = {group_key(source): targets for source, targets in settings.OIDC_GROUP_MAP.items()}
    target_names = {name for targets in group_map.values() for name in targets}
    mapped = {group.name: group for group in Group.objects.filter(name__in=target_names)}
    for name in sorted(target_names - set(mapped)):
        logger.warning("OIDC_GROUP_MAP names a group that does not exist: %s", name)
    keys = {group_key(value) for value in values if isinstance(value, str)}
    governed = {group.pk: group for group in [*manageable, *mapped.values()]}
    wanted = {group.pk for group in manageable if group_key(group.name) in keys}
    for key in keys & set(group_map):
        wanted |= {mapped[name].pk for name in group_map[key] if name in mapped}
    return wanted, governed, {group.pk for group in mapped.values()}


def _sync_groups(user, claims, *, actor):
    """Make the person's governed groups what the provider's groups claim says, one history
    row per group added or removed. With no groups claim at all (not configured, or Entra's
    "overage" that sends a link instead of the list) nothing changes: an absent list is not
    an empty one."""
    claim = settings.OIDC_GROUPS_CLAIM
    values = claims.get(claim) if claim else None
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, list):
        return
    from directory.queries import manageable_groups

    wanted, governed, mapped = oidc_groups_wanted(values)
    current = set(user.groups.filter(pk__in=list(governed)).values_list("pk", flat=True))
    for pk in sorted(current - wanted):
        user._history_user = actor
        user._change_reason = f"Removed by the identity provider's groups: {governed[pk].name}"
        user.groups.remove(governed[pk])
    for pk in sorted(wanted - current):
        user._history_user = actor
        user._change_reason = f"Added by the identity provider's groups: {governed[pk].name}"
        user.groups.add(governed[pk])
    # A mapped role group that grants permissions is an admin role: it opens the admin. The
    # flag is never taken away here (losing the group takes its permissions away).
    granting = wanted & mapped
    granting -= set(manageable_groups().filter(pk__in=granting).values_list("pk", flat=True))
    if granting and not user.is_staff:
        user.is_staff = True
        names = ", ".join(sorted(governed[pk].name for pk in granting))
        _save_user(user, actor=actor, reason=f"Admin access: {names} from the identity provider")


@transaction.atomic
def oidc_sign_in(*, issuer, claims):
    """The person the provider `issuer` vouches for with `claims` (its ID token's and userinfo
    claims, checked by the face): found by (issuer, sub), else a local account linked by a
    verified email (`_find_account_to_link`), else created. Their names, email and groups are
    brought up to date from the claims on every sign-in. Refuses (SignInRefused) a
    deactivated account and the links `_find_account_to_link` will not make."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject or len(subject) > 255:
        raise SignInRefused("The identity provider sent no usable subject (sub).")
    actor = oidc_service_user(issuer)
    identity = (
        OidcIdentity.objects.select_for_update()
        .filter(issuer=issuer, subject=subject)
        .select_related("user")
        .first()
    )
    if identity is not None:
        user = lock(identity.user)
        _refuse_inactive(user)
        identity.last_seen_at = timezone.now()
        identity.save(update_fields=["last_seen_at"])
    else:
        user = _find_account_to_link(claims, issuer)
        if user is not None:
            user = lock(user)
            reason = "Linked on first sign-in through the identity provider (verified email)"
        else:
            user = User(username=_new_username(claims, subject), **_profile(claims))
            user.set_unusable_password()
            _save_user(
                user, actor=actor, reason="Created on first sign-in through the identity provider"
            )
            reason = "Created on first sign-in through the identity provider"
        try:
            with transaction.atomic():
                audited_save(
                    OidcIdentity(issuer=issuer, subject=subject, user=user),
                    actor=actor,
                    reason=reason,
                )
        except (ValidationError, IntegrityError) as exc:
            # The same person's first sign-in in another tab, a moment earlier.
            raise Conflict("You are being signed in already; please try again.") from exc
    _update_profile(user, claims, actor=actor)
    _sync_groups(user, claims, actor=actor)
    return user


@transaction.atomic
def oidc_link(*, user, issuer, subject, actor):
    """An administrator links `user` to the identity `subject` at `issuer` (for the sign-ins
    `oidc_sign_in` will not link by itself)."""
    if not subject or len(subject) > 255:
        raise InvalidInput("Give the identity's subject (sub), at most 255 characters.")
    user = lock(user)
    if OidcIdentity.objects.filter(issuer=issuer, subject=subject).exists():
        raise Conflict("That identity is linked already.")
    if OidcIdentity.objects.filter(issuer=issuer, user=user).exists():
        raise Conflict("This person is linked to another identity at that provider already.")
    return audited_save(
        OidcIdentity(issuer=issuer, subject=subject, user=user),
        actor=actor,
        reason="Linked by an administrator",
    )

"""Every write the directory makes: tokens, provisioned people and groups, membership.

Sign-in through an OpenID provider is `sign_in` (re-exported here: the faces import
`directory.services` alone).

The actor of a SCIM change is the token's service user (`scim:NAME`), so the history names
the directory feed that made it. Authorisation is the token itself (checked by the SCIM
face before any service runs): a service user holds no permission and cannot sign in.
"""

import hashlib
import logging
import re
import secrets
import unicodedata

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import Conflict, InvalidInput, NotPermitted
from core.services import audited_save, lock, model_update
from directory.models import ProvisionedGroup, ProvisionedUser, ScimToken

User = get_user_model()
logger = logging.getLogger(__name__)

SERVICE_USER_PREFIX = "scim:"
# The actor of what a sign-in through an OpenID provider changes: `oidc:<issuer host>`.
OIDC_SERVICE_USER_PREFIX = "oidc:"
USER_FIELDS = ("username", "first_name", "last_name", "email", "is_active")
LINK_FIELDS = ("external_id", "display_name", "emails")
TOKEN_BYTES = 32
MAX_EMAILS = 10


def hash_token(raw):
    """The SHA-256 hex digest kept in place of a token."""
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def token_create(*, name, actor):
    """A new token named `name` and its service user; returns (token, the raw token, shown once)."""
    if not name or ScimToken.objects.filter(name=name).exists():
        raise Conflict(f"A token named {name!r} exists already." if name else "Name a token.")
    # ":" is outside Django's username characters, so no provisioned person can take the name.
    service_user = User(
        username=f"{SERVICE_USER_PREFIX}{name}", first_name=f"SCIM {name}", is_active=False
    )
    service_user.set_unusable_password()
    audited_save(service_user, actor=actor, reason="SCIM token created", exclude=["username"])
    raw = secrets.token_urlsafe(TOKEN_BYTES)
    token = ScimToken(name=name, token_hash=hash_token(raw), service_user=service_user)
    audited_save(token, actor=actor, reason="SCIM token created")
    return token, raw


@transaction.atomic
def token_revoke(*, token, actor):
    """Revoke `token`: from now on it is refused (401)."""
    token = lock(token)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        audited_save(token, actor=actor, reason="SCIM token revoked")
    return token


def token_touch(*, token):
    """Note that `token` was used now (not a history event: the field is outside the history)."""
    token.last_used_at = timezone.now()
    token.save(update_fields=["last_used_at"])
    return token


def _save_user(user, *, actor, reason):
    try:
        with transaction.atomic():
            audited_save(user, actor=actor, reason=reason, exclude=["password", "last_login"])
    except ValidationError as exc:
        if (
            "username" in exc.message_dict
            and User.objects.filter(username__iexact=user.username).exclude(pk=user.pk).exists()
        ):
            raise Conflict("That userName is taken.", field="userName") from exc
        raise
    except IntegrityError as exc:
        raise Conflict("That userName is taken.", field="userName") from exc


def _refuse_taken(model, field, value, instance=None, *, label):
    # Django's unique names are case-sensitive; SCIM's userName and displayName are not
    # (RFC 7643 §4.1.1, §4.2): two names differing only in case are one name.
    taken = model.objects.filter(**{f"{field}__iexact": value})
    if instance is not None:
        taken = taken.exclude(pk=instance.pk)
    if taken.exists():
        raise Conflict(f"That {label} is taken.", field=label)


def _check_username(username, user=None):
    _refuse_taken(User, "username", username, user, label="userName")


def _check_emails(emails):
    if len(emails) > MAX_EMAILS:
        raise InvalidInput(f"At most {MAX_EMAILS} emails may be given.", field="emails")


@transaction.atomic
def user_provision(*, actor, username, external_id="", display_name="", emails=(), **fields):
    """Create a person from the directory (no usable password: they sign in through the directory)."""
    _check_username(username)
    _check_emails(emails)
    unknown = sorted(set(fields) - set(USER_FIELDS))
    if unknown:
        raise InvalidInput(f"These fields cannot be set here: {', '.join(unknown)}.")
    user = User(username=username, **fields)
    user.set_unusable_password()
    _save_user(user, actor=actor, reason="Provisioned over SCIM")
    link = ProvisionedUser(
        user=user,
        external_id=external_id or "",
        display_name=display_name or "",
        emails=list(emails),
    )
    audited_save(link, actor=actor, reason="Provisioned over SCIM")
    return user


def _link_of_user(user, *, actor):
    link = ProvisionedUser.objects.filter(user=user).first()
    if link is None:  # a local account the directory now takes over
        link = audited_save(ProvisionedUser(user=user), actor=actor, reason="Linked over SCIM")
    return lock(link)


PRIVILEGED_MESSAGE = "This account has an administrative role; change it in the admin."


def _shown_link(user):
    """(externalId, displayName, emails) as SCIM shows them for `user` (resources.user_resource)."""
    link = ProvisionedUser.objects.filter(user=user).first()
    kept = link.emails if link else []
    if not (kept and any(entry["value"] == user.email for entry in kept)):
        kept = [{"value": user.email, "primary": True}] if user.email else []
    if link:
        return link.external_id, link.display_name, kept
    return "", f"{user.first_name} {user.last_name}".strip(), kept


def _refuse_privileged_change(user, *, fields, external_id, display_name, emails):
    """An account with an administrative role (queries.is_privileged) may only be deactivated
    over SCIM: any other change, re-activation included, is refused (403)."""
    from directory.queries import is_privileged  # queries imports this module

    if not is_privileged(user):
        return False
    changed = [
        name
        for name, value in fields.items()
        if getattr(user, name) != value and not (name == "is_active" and value is False)
    ]
    shown_external_id, shown_display_name, shown_emails = _shown_link(user)
    if (
        changed
        or (external_id or "") != shown_external_id
        or (display_name or "") not in ("", shown_display_name)
        or (list(emails) and _email_set(emails) != _email_set(shown_emails))
    ):
        raise NotPermitted(PRIVILEGED_MESSAGE)
    return True


def _email_set(emails):
    return sorted((entry["value"].casefold(), bool(entry.get("primary"))) for entry in emails)


@transaction.atomic
def user_replace(*, actor, user, external_id="", display_name="", emails=(), **fields):
    """Set a person's directory attributes; `is_active=False` is a deactivation."""
    user = lock(user)
    _check_emails(emails)
    privileged = _refuse_privileged_change(
        user, fields=fields, external_id=external_id, display_name=display_name, emails=emails
    )
    if "username" in fields:
        _check_username(fields["username"], user)
    reason = (
        "Deactivated over SCIM"
        if fields.get("is_active") is False and user.is_active
        else ("Updated over SCIM")
    )
    changed = [name for name, value in fields.items() if getattr(user, name) != value]
    if changed:
        unknown = sorted(set(fields) - set(USER_FIELDS))
        if unknown:
            raise InvalidInput(f"These fields cannot be changed here: {', '.join(unknown)}.")
        for name in changed:
            setattr(user, name, fields[name])
        _save_user(user, actor=actor, reason=reason)
    if privileged:  # deactivated at most: what the directory says of it is not kept
        return user
    link = _link_of_user(user, actor=actor)
    model_update(
        instance=link,
        actor=actor,
        fields={
            "external_id": external_id or "",
            "display_name": display_name or "",
            "emails": list(emails),
        },
        allowed=LINK_FIELDS,
        reason="Updated over SCIM",
    )
    return user


@transaction.atomic
def user_deprovision(*, actor, user):
    """DELETE over SCIM: deactivate the person and hide them from SCIM; nothing is deleted."""
    known = getattr(user, "provisioned", None)
    user = user_replace(
        actor=actor,
        user=user,
        is_active=False,
        external_id=known.external_id if known else "",
        display_name=known.display_name if known else "",
        emails=known.emails if known else (),
    )
    link = _link_of_user(user, actor=actor)
    link.deprovisioned_at = timezone.now()
    audited_save(link, actor=actor, reason="Deprovisioned over SCIM")
    return user


def group_name(name):
    """A group's displayName as kept: NFKC, stripped, inner whitespace one space; control and
    format characters (zero-width spaces, joiners, bidi marks) are refused, so no lookalike of
    a role group ("Compliance\u200b", "Coordinators ") can be made."""
    name = unicodedata.normalize("NFKC", name or "")
    if any(unicodedata.category(char) in ("Cc", "Cf") for char in name.strip()):
        raise InvalidInput(
            "displayName holds a control or invisible character.", field="displayName"
        )
    name = re.sub(r"\s+", " ", name).strip()
    if not name:
        raise InvalidInput("Name the group (displayName).", field="displayName")
    return name


def _check_group_name(name, group=None):
    _refuse_taken(Group, "name", name, group, label="displayName")
    # iexact folds ASCII only (SQLite): compare every other name casefolded as well.
    others = Group.objects.exclude(pk=group.pk) if group else Group.objects.all()
    if any(other.casefold() == name.casefold() for other in others.values_list("name", flat=True)):
        raise Conflict("That displayName is taken.", field="displayName")


def _set_members(*, actor, group, members, reason):
    """Make `members` (users) the group's members, one recorded change per person added or removed."""
    wanted = {member.pk: member for member in members}
    current = set(group.user_set.values_list("pk", flat=True))
    for member in User.objects.filter(pk__in=current - set(wanted)).order_by("pk"):
        member.groups.remove(_stamped(group, member, actor=actor, reason=reason))
    for pk in sorted(set(wanted) - current):
        member = wanted[pk]
        member.groups.add(_stamped(group, member, actor=actor, reason=reason))


def _stamped(group, member, *, actor, reason):
    # The forward side (member.groups) writes the member's history row; it reads who and why
    # from the member.
    member._history_user = actor
    member._change_reason = f"{reason}: {group.name}"
    return group


@transaction.atomic
def group_create(*, actor, name, external_id="", members=()):
    """A new group from the directory, with its members."""
    name = group_name(name)
    _check_group_name(name)
    group = Group(name=name)
    group.full_clean()
    group.save()
    audited_save(
        ProvisionedGroup(group=group, external_id=external_id or ""),
        actor=actor,
        reason="Provisioned over SCIM",
    )
    _set_members(actor=actor, group=group, members=members, reason="Added over SCIM")
    return group


@transaction.atomic
def group_replace(*, actor, group, name, external_id="", members=()):
    """Rename a group, set its externalId and its members (each change in the member's history)."""
    group = lock(group)
    name = group_name(name) if name != group.name else name
    if name != group.name:
        # Plans and courses name groups by row, not by name: a rename keeps audiences.
        _check_group_name(name, group)
        group.name = name
        group.full_clean()
        group.save()
    link = ProvisionedGroup.objects.filter(group=group).first() or audited_save(
        ProvisionedGroup(group=group), actor=actor, reason="Linked over SCIM"
    )
    model_update(
        instance=lock(link),
        actor=actor,
        fields={"external_id": external_id or ""},
        allowed=("external_id",),
        reason="Updated over SCIM",
    )
    _set_members(actor=actor, group=group, members=members, reason="Membership set over SCIM")
    return group


@transaction.atomic
def group_deprovision(*, actor, group):
    """DELETE over SCIM: the group is emptied and hidden from SCIM; the Django group stays,
    since plans and courses name it (its audiences simply have nobody in them)."""
    group = group_replace(
        actor=actor,
        group=group,
        name=group.name,
        external_id=getattr(getattr(group, "provisioned", None), "external_id", ""),
        members=(),
    )
    link = lock(group.provisioned)
    link.deprovisioned_at = timezone.now()
    audited_save(link, actor=actor, reason="Deprovisioned over SCIM")
    return group


# Sign-in through an OpenID provider, read through this module (it imports the helpers above).
from .sign_in import (  # noqa: E402
    SignInRefused,
    group_key,
    oidc_groups_wanted,
    oidc_link,
    oidc_service_user,
    oidc_sign_in,
)

__all__ = [
    "SignInRefused",
    "group_key",
    "oidc_groups_wanted",
    "oidc_link",
    "oidc_service_user",
    "oidc_sign_in",
]

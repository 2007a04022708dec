"""The read side of SCIM: who and which groups the directory sees, tokens by their hash, filters."""

import re

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Exists, OuterRef, Prefetch, Q

from core.roles import STAFF
from directory.models import ScimToken
from directory.services import OIDC_SERVICE_USER_PREFIX, SERVICE_USER_PREFIX, hash_token

User = get_user_model()


def active_token(raw):
    """The unrevoked token whose hash matches `raw`, or None."""
    if not raw:
        return None
    return (
        ScimToken.objects.select_related("service_user")
        .filter(token_hash=hash_token(raw), revoked_at__isnull=True)
        .first()
    )


def manageable_groups():
    """Groups SCIM may see and change: Staff, and those granting no permission.

    Staff is everyone's baseline role (report, acknowledge, see one's training): the
    directory says who is staff. The other role groups, and any group given permissions by
    hand, stay with the administrators: a directory feed must not hand out the power to
    approve plans or read every record. Plan audiences and course requirements are plain
    groups (or Staff), and those the directory fills.
    """
    granting = Group.permissions.through.objects.filter(group_id=OuterRef("pk"))
    return (
        Group.objects.filter(~Exists(granting) | Q(name=STAFF))
        .exclude(provisioned__deprovisioned_at__isnull=False)
        .order_by("pk")
    )


def is_privileged(user):
    """Whether `user` holds an administrative role: superuser, staff (admin site), or a member
    of a group SCIM may not manage. Such an account is the administrators' to change: over
    SCIM it may be read and deactivated, nothing else (directory.services.user_replace)."""
    if user.is_superuser or user.is_staff:
        return True
    return user.groups.exclude(pk__in=manageable_groups().values("pk")).exists()


def provisioned_users():
    """People SCIM sees: everyone but the service users (SCIM tokens', OpenID providers'), the
    system user and those it deleted."""
    return (
        User.objects.exclude(username__startswith=SERVICE_USER_PREFIX)
        .exclude(username__startswith=OIDC_SERVICE_USER_PREFIX)
        .exclude(username=settings.SYSTEM_USERNAME)
        .exclude(provisioned__deprovisioned_at__isnull=False)
        .select_related("provisioned")
        .prefetch_related(Prefetch("groups", queryset=manageable_groups()))
        .order_by("pk")
    )


def provisioned_groups():
    """Manageable groups with their members as SCIM sees them, for a page of groups."""
    return (
        manageable_groups()
        .select_related("provisioned")
        .prefetch_related(Prefetch("user_set", queryset=provisioned_users().prefetch_related(None)))
    )


# SCIM attribute (lower case) -> (Django lookup, case-exact?) for `eq` filters.
USER_FILTERS = {
    "id": ("pk", True),
    "username": ("username", False),
    "externalid": ("provisioned__external_id", True),
    "emails.value": ("email", False),
    "emails": ("email", False),
    "active": ("is_active", True),
}
GROUP_FILTERS = {
    "id": ("pk", True),
    "displayname": ("name", False),
    "externalid": ("provisioned__external_id", True),
    "members.value": ("user", True),
    "members": ("user", True),
}


_ID = re.compile(r"[0-9]{1,18}")


def is_id(value):
    """Whether `value` is one of our ids as SCIM sends it: a string of ASCII digits that fits
    the database's integers (a longer one is nobody, not a 500)."""
    return isinstance(value, str) and _ID.fullmatch(value) is not None


class UnsupportedFilter(ValueError):
    """A filter naming an attribute or operator this service does not filter on (400 invalidFilter)."""


def filtered(queryset, node, lookups):
    """`queryset` narrowed by a parsed SCIM filter (`ScimFilter.ast`): `eq` on the attributes
    of `lookups`, joined with `and` / `or` / `not`."""
    return queryset.filter(_condition(node, lookups)).distinct()


def _condition(node, lookups):
    kind = type(node).__name__
    if kind == "LogicalExpr":
        terms = [_condition(term, lookups) for term in node.terms]
        combined = terms[0]
        for term in terms[1:]:
            combined = combined & term if str(node.op.value) == "and" else combined | term
        return combined
    if kind == "Not":
        return ~_condition(node.expr, lookups)
    if kind != "Comparison" or str(node.op.value) != "eq":
        raise UnsupportedFilter("Only 'eq' comparisons, joined by and/or/not, are supported.")
    path = node.attr_path
    key = (f"{path.attr}.{path.sub_attr}" if path.sub_attr else path.attr).lower()
    if key not in lookups:
        raise UnsupportedFilter(f"Filtering on {path} is not supported.")
    lookup, case_exact = lookups[key]
    value = node.value
    if lookup in ("pk", "user") and not is_id(value):
        return Q(pk__in=[])
    if isinstance(value, str) and not case_exact:
        return Q(**{f"{lookup}__iexact": value})
    return Q(**{lookup: value})

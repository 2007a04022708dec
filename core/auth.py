"""Sign-in protection (django-axes' lockout for every web sign-in) and the permission
backend that answers Django's two permission queries from the cache."""

import time

from axes.backends import AxesStandaloneBackend
from axes.conf import settings
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.db import transaction


class LockoutBackend(AxesStandaloneBackend):
    """Axes' lockout check, for sign-ins that come with a request.

    Every web sign-in (admin, self-service site, API token endpoint) passes the
    request and is counted. Calls without one (the shell, `Client.login` in
    tests) cannot come from a password guesser over the network, so they fall
    through to the model backend instead of failing outright.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def lockout_username(request, credentials=None):
    """The username django-axes counts failures under (AXES_USERNAME_CALLABLE), cut to the
    longest a username can be.

    Axes stores it in a 255-character column: a longer one (which names no account) made
    PostgreSQL refuse the attempt record, and every sign-in page answered 500.
    """
    field = settings.AXES_USERNAME_FORM_FIELD
    if credentials:
        username = credentials.get(field)
    else:
        username = getattr(request, "data", request.POST).get(field)
    if not isinstance(username, str):
        return username
    return username[: get_user_model()._meta.get_field("username").max_length]


# -- permissions from the cache --------------------------------------------------------
# Django's ModelBackend runs two queries per request (the user's own permissions and those of
# their groups) the first time a request asks `has_perm`. Roles change rarely, so the answer
# is kept in the cache under a generation number that every change of a permission, a group,
# a membership or a user's own grants bumps: the next request after a revocation reads
# the database again. Whether the user is a superuser is part of the key, an inactive user
# has no permissions before the cache is asked (as in ModelBackend), and a new or deleted
# user bumps the generation too, so a reused primary key never inherits an entry.

PERMISSION_GENERATION_KEY = "core.auth.permission-generation"
PERMISSION_CACHE_SECONDS = 3600


def permission_generation():
    """The current generation; a missing one (first use, eviction) starts from the clock,
    so it never repeats an earlier number whose entries may still be cached."""
    generation = cache.get(PERMISSION_GENERATION_KEY)
    if generation is None:
        cache.add(PERMISSION_GENERATION_KEY, time.time_ns(), timeout=None)
        generation = cache.get(PERMISSION_GENERATION_KEY)
    return generation


def _bump_generation():
    try:
        cache.incr(PERMISSION_GENERATION_KEY)
    except ValueError:  # not there (evicted or never read): a fresh start is as good
        cache.set(PERMISSION_GENERATION_KEY, time.time_ns(), timeout=None)


def forget_permissions(**kwargs):
    """Receiver: any change to who holds which permission. Bumped at once (later reads in
    this transaction see the change) and again on commit (a concurrent request that read
    the old rows before the commit cached them under the generation bumped first)."""
    _bump_generation()
    transaction.on_commit(_bump_generation, using=kwargs.get("using"))


def forget_permissions_on_user_change(sender, created=False, **kwargs):
    """A new user (its primary key may have been used by a user whose change rolled back);
    is_active and is_superuser need no bump: the first is checked before the cache, the
    second is part of the key."""
    if created:
        forget_permissions(**kwargs)


class CachedPermissionBackend(ModelBackend):
    """ModelBackend whose two permission queries are answered from the cache when
    settings.PERMISSION_CACHE is on (config/settings.py says when it is)."""

    def _get_permissions(self, user_obj, obj, from_name):
        if (
            not django_settings.PERMISSION_CACHE
            or not user_obj.is_active
            or user_obj.is_anonymous
            or obj is not None
        ):
            return super()._get_permissions(user_obj, obj, from_name)
        attribute = f"_{from_name}_perm_cache"
        if not hasattr(user_obj, attribute):
            if not hasattr(user_obj, "_perm_generation"):
                user_obj._perm_generation = permission_generation()
            key = (
                f"core.auth.perms:{user_obj._perm_generation}:{user_obj.pk}:"
                f"{int(user_obj.is_superuser)}:{from_name}"
            )
            perms = cache.get(key)
            if perms is None:
                perms = super()._get_permissions(user_obj, obj, from_name)
                cache.set(key, perms, PERMISSION_CACHE_SECONDS)
            setattr(user_obj, attribute, perms)
        return getattr(user_obj, attribute)


def connect_permission_cache():
    """Called by CoreConfig.ready(): every change that can grant or revoke a permission."""
    from django.contrib.auth.models import Group, Permission
    from django.db.models.signals import m2m_changed, post_delete, post_save

    User = get_user_model()
    for through in (User.groups.through, User.user_permissions.through, Group.permissions.through):
        m2m_changed.connect(forget_permissions, sender=through, dispatch_uid=f"core.perms.{through}")
    for model in (Group, Permission):
        post_save.connect(forget_permissions, sender=model, dispatch_uid=f"core.perms.save.{model}")
        post_delete.connect(forget_permissions, sender=model, dispatch_uid=f"core.perms.del.{model}")
    post_save.connect(forget_permissions_on_user_change, sender=User, dispatch_uid="core.perms.user")
    post_delete.connect(forget_permissions, sender=User, dispatch_uid="core.perms.user.del")

"""History helpers: who acted and why, for every write path (requests, services, commands)."""

from contextlib import contextmanager
from types import SimpleNamespace

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models
from simple_history.models import HistoricalRecords

from core.chain import ChainedHistory

_MISSING = object()


@contextmanager
def acting_as(user):
    """Record `user` as the history user of every save inside the block.

    simple-history reads the user from `HistoricalRecords.context.request`;
    commands and tasks have no request, so we lend it one that carries the
    actor. The previous context (a real request) is restored afterwards.
    """
    previous = getattr(HistoricalRecords.context, "request", _MISSING)
    HistoricalRecords.context.request = SimpleNamespace(user=user)
    try:
        yield user
    finally:
        if previous is _MISSING:
            try:
                del HistoricalRecords.context.request
            except AttributeError:
                pass
        else:
            HistoricalRecords.context.request = previous


def stamp(instance, *, actor, reason=""):
    """Mark the next history record of `instance` with who and why."""
    instance._history_user = actor if (actor is not None and actor.is_authenticated) else None
    if reason:
        instance._change_reason = reason
    return instance


def system_user():
    """The named user recorded as actor of scheduled work run without --user."""
    User = get_user_model()
    user, created = User.objects.get_or_create(
        username=settings.SYSTEM_USERNAME,
        defaults={"first_name": "System", "is_active": False},
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def resolve_actor(username=None):
    """The user a management command acts as: --user NAME, else the system user."""
    if not username:
        return system_user()
    User = get_user_model()
    try:
        return User.objects.get(username=username)
    except User.DoesNotExist as exc:
        from django.core.management import CommandError

        raise CommandError(f"No user named {username!r}.") from exc


class AuditedHistoricalRecords(HistoricalRecords):
    """simple-history's records, append-only, also when a many-to-many is changed from its other side.

    History rows are never updated (the database refuses it, `core.evidence`), so the reason
    is set before the save (`stamp`, `_change_reason`), never with simple-history's
    `update_change_reason`, which rewrites the row afterwards; and the person who made a
    change is kept: `history_user` is PROTECT, not simple-history's SET_NULL (which would
    rewrite every row naming them), so a person named in the history cannot be deleted;
    deactivate the account instead. Each row is sealed into its table's hash chain
    (`core.chain.ChainedHistory`) as it is inserted.

    simple-history records `plan.audience.add(group)`, but `group.user_set.add(user)`
    or `group.plans.add(plan)` reach its handler with the group as the instance and
    fail ("'Group' object has no attribute 'history'"). Here a change from the
    reverse side adds one history row to each record on the tracked side instead,
    with the actor and reason the reverse instance carries (or the request's user).
    """

    def __init__(self, *args, bases=(ChainedHistory,), **kwargs):
        # Every history row carries its link in the hash chain (core.chain).
        super().__init__(*args, bases=bases, **kwargs)

    def post_save(self, instance, created, using=None, **kwargs):
        # A save that changes nothing (a PATCH or an admin save of the same values) is no
        # event: an empty "Edited" row would only bury the real ones.
        if not created and not kwargs.get("raw", False) and self._unchanged(instance, using):
            return
        return super().post_save(instance, created, using=using, **kwargs)

    def _unchanged(self, instance, using):
        # A touched `auto_now` stamp alone is not a change anybody made.
        attnames = [
            field.attname
            for field in self.fields_included(instance)
            if not getattr(field, "auto_now", False)
        ]
        manager = getattr(instance, self.manager_name)
        latest = (
            manager.model._default_manager.using(using)
            .filter(**{instance._meta.pk.attname: instance.pk})
            .order_by("-history_date", "-history_id")
            .values(*attnames)
            .first()
        )
        if latest is None:
            return False
        return all(latest[name] == getattr(instance, name) for name in attnames)

    def _get_history_user_fields(self):
        fields = super()._get_history_user_fields()
        user = fields.get("history_user")
        if isinstance(user, models.ForeignKey):
            user.remote_field.on_delete = models.PROTECT
        return fields

    def m2m_changed(self, instance, action, attr, pk_set, reverse, model=None, **kwargs):
        if not reverse:
            return super().m2m_changed(instance, action, attr, pk_set, reverse, **kwargs)
        if not getattr(settings, "SIMPLE_HISTORY_ENABLED", True):
            return
        if action == "pre_clear":
            instance._history_cleared_pks = list(
                model._default_manager.filter(**{attr: instance}).values_list("pk", flat=True)
            )
            return
        if action == "post_clear":
            pk_set = instance.__dict__.pop("_history_cleared_pks", [])
        elif action not in ("post_add", "post_remove"):
            return
        for record in model._default_manager.filter(pk__in=pk_set or []):
            for carried in ("_history_user", "_change_reason"):
                if hasattr(instance, carried):
                    setattr(record, carried, getattr(instance, carried))
            self.create_historical_record(record, "~")

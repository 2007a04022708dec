"""The one way to write: every service of every app changes rows through these helpers.

The shape of a service (HackSoft's `model_update`, Zulip's `do_*`):

    @transaction.atomic
    def course_update(*, course, actor, reason="", **fields):
        require(actor, "training.change_course")
        course = lock(course)
        changed = model_update(instance=course, actor=actor, fields=fields,
                               allowed=COURSE_FIELDS, reason=reason)
        if changed:
            enqueue_on_commit(send_course_notice, course.pk)
        return course

- `require` checks the model permission in the service, whichever face called it
  (admin, API, page, import, command); `actor=None` is refused like anyone without it.
- `lock` reads the row again under `SELECT … FOR UPDATE` (a no-op on SQLite, where the
  transaction is IMMEDIATE and so already serialised).
- `audited_save` validates (`full_clean`), stamps who and why in the history, saves.
- `model_update` sets the fields that changed, refusing names the service does not offer,
  and saves once through `audited_save`; nothing is written when nothing changed.
- `enqueue_on_commit` hands a task to the Tasks API once the transaction commits, so a
  rolled-back change schedules nothing. Email leaves through `core.mail.email_queue`, which
  records the message in the outbox and delivers it the same way.
"""

from django.db import transaction

from core.errors import InvalidInput, NotPermitted
from core.history import stamp

DEFAULT_REFUSAL = "You do not have permission to do this."


def require(actor, perm, message=DEFAULT_REFUSAL):
    """Refuse (NotPermitted) unless `actor` is someone holding the permission `perm`."""
    if actor is None or not actor.is_authenticated or not actor.has_perm(perm):
        raise NotPermitted(message)
    return actor


def lock(instance, *, select_related=(), queryset=None):
    """`instance`'s row read again and locked for the rest of the transaction.

    Rules are checked on what this returns, so a change committed meanwhile counts. An
    instance its caller read under the lock in a block still open (`mark_locked`: the API's
    `get_object_for_update`) is current already and comes back as it is: the row is read once.
    """
    if getattr(instance, "_locked_in", None) in transaction.get_connection().atomic_blocks:
        return instance
    if queryset is None:
        queryset = type(instance)._default_manager
    if select_related:
        queryset = queryset.select_related(*select_related)
    return queryset.select_for_update().get(pk=instance.pk)


def mark_locked(instance):
    """Note that `instance` was read after its row was locked, in the innermost open block."""
    blocks = transaction.get_connection().atomic_blocks
    if blocks:
        instance._locked_in = blocks[-1]
    return instance


def audited_save(instance, *, actor, reason="", exclude=None, **save_kwargs):
    """Validate and save `instance`, recording `actor` and `reason` in its history."""
    instance.full_clean(exclude=exclude)
    stamp(instance, actor=actor, reason=reason)
    instance.save(**save_kwargs)
    return instance


def model_update(*, instance, actor, fields, allowed, reason="", exclude=None):
    """Set those of `fields` whose value differs and save once; returns the names changed.

    A name outside `allowed` is refused with InvalidInput naming it (a face that offers
    a field the service does not is a bug worth a clear 400, not a silent drop). With no
    change nothing is written, so no empty history row appears.
    """
    unknown = sorted(set(fields) - set(allowed))
    if unknown:
        raise InvalidInput(f"These fields cannot be changed here: {', '.join(unknown)}.")
    changed = []
    for name, value in fields.items():
        field = instance._meta.get_field(name)
        if field.many_to_many:
            continue  # links are set by the service after the row is saved
        if getattr(instance, field.attname if _is_raw(field, value) else name) != value:
            setattr(instance, name, value)
            changed.append(name)
    if changed:
        audited_save(instance, actor=actor, reason=reason, exclude=exclude)
    return changed


def _is_raw(field, value):
    """A foreign key given as an id is compared with the id column, not the related row."""
    return field.is_relation and value is not None and not hasattr(value, "_meta")


def enqueue_on_commit(task, *args, **kwargs):
    """Enqueue `task` (a django-tasks task) once the current transaction commits."""
    transaction.on_commit(lambda: task.enqueue(*args, **kwargs))

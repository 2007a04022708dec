"""Claiming a person's reminder clock: at most one reminder per interval, whichever machine sends it."""

import datetime
from contextlib import contextmanager

from django.db import IntegrityError, transaction


@contextmanager
def claimed_clock(clock_model, user, *, interval_days, now):
    """Yield `user`'s clock row, locked, when a reminder is due; otherwise yield None.

    The per-person clock row is the lock: `select_for_update(skip_locked=True)`
    lets cron runs on several machines each take different people and never the
    same person twice (on PostgreSQL; SQLite serialises writers anyway). The
    caller stamps `last_sent_at` and sends inside the block, so the send and the
    stamp commit together; the stamp keeps later runs away for `interval_days`.
    """
    try:
        with transaction.atomic():
            clock_model.objects.get_or_create(user=user)
    except IntegrityError:
        pass  # another machine created it first
    with transaction.atomic():
        clock = clock_model.objects.select_for_update(skip_locked=True).filter(user=user).first()
        interval = datetime.timedelta(days=interval_days)
        if clock is not None and clock.last_sent_at is not None and clock.last_sent_at > now - interval:
            clock = None
        yield clock

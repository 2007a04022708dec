"""Living with SQLite's single writer: recognise "database is locked", and retry scheduled work.

With WAL, a busy timeout and IMMEDIATE transactions (config/settings.py) writers queue
instead of failing; a writer that waits longer than the timeout still gets
`OperationalError: database is locked`. A web request answers 503 with Retry-After
(core.middleware); a timer command, idempotent by design, runs again a moment later.
"""

import functools
import time

from django.db import OperationalError

RETRY_ATTEMPTS = 5
RETRY_WAIT_SECONDS = 1.0


def is_database_busy(exc):
    """SQLite's "database is locked" / "database table is locked"."""
    return isinstance(exc, OperationalError) and "is locked" in str(exc)


def retry_when_busy(func):
    """Run `func` again (up to RETRY_ATTEMPTS times, waiting longer each time) while the
    database is busy. Only for work that is safe to repeat and runs outside a transaction:
    the timer commands, whose every step is idempotent."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        for attempt in range(1, RETRY_ATTEMPTS + 1):
            try:
                return func(*args, **kwargs)
            except OperationalError as exc:
                if not is_database_busy(exc) or attempt == RETRY_ATTEMPTS:
                    raise
                time.sleep(RETRY_WAIT_SECONDS * attempt)
        raise AssertionError("unreachable")

    return wrapper

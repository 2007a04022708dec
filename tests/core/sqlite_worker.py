"""Concurrent load against a SQLite file, run in its own process by test_sqlite_concurrency.

The test suite's SQLite database lives in memory (shared cache), which locks differently
from the file a real deployment uses: this process is configured like `make run`
(DATABASE_URL pointing at a file) and prints what its clients saw, as JSON.

    python -m tests.core.sqlite_worker acknowledge VERSION_ID USER_ID CLIENTS
    python -m tests.core.sqlite_worker escalate USERNAME RUNS
    python -m tests.core.sqlite_worker locked VERSION_ID USER_ID
    python -m tests.core.sqlite_worker escalate-while-locked USERNAME SECONDS
"""

import json
import os
import sys
import threading


def _acknowledge(version_id, user_id, clients):
    from django.contrib.auth import get_user_model
    from django.db import connections
    from rest_framework.test import APIClient

    from plans.models import PlanVersion

    user = get_user_model().objects.get(pk=user_id)
    version = PlanVersion.objects.get(pk=version_id)
    body = {
        "password": "pw",
        "full_name": user.get_full_name(),
        "content_hash": version.content_hash,
    }
    connections.close_all()
    barrier = threading.Barrier(clients)
    answers = []

    def client():
        try:
            api = APIClient(raise_request_exception=False)
            api.force_authenticate(user)
            barrier.wait()
            response = api.post(
                f"/api/v1/plan-versions/{version_id}/acknowledge/", body, format="json"
            )
            answers.append([response.status_code, response.headers.get("Retry-After")])
        finally:
            connections.close_all()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"answers": answers}


def _escalate(username, runs):
    from io import StringIO

    from django.core.management import call_command
    from django.db import connections

    barrier = threading.Barrier(runs)
    outcomes = []

    def run():
        out = StringIO()
        try:
            barrier.wait()
            call_command("escalate_overdue_incidents", "--user", username, stdout=out)
            outcomes.append({"ok": True, "out": out.getvalue()})
        except Exception as exc:  # noqa: BLE001  (reported to the test, which asserts none)
            outcomes.append({"ok": False, "error": f"{type(exc).__name__}: {exc}"})
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(runs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"outcomes": outcomes}


def _locked(version_id, user_id):
    """Another process holds the write lock past the busy timeout: a write, then a read."""
    import sqlite3

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from rest_framework.test import APIClient

    user = get_user_model().objects.get(pk=user_id)
    api = APIClient(raise_request_exception=False)
    api.force_authenticate(user)
    holder = sqlite3.connect(settings.DATABASES["default"]["NAME"], isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        write = api.post(
            f"/api/v1/plan-versions/{version_id}/acknowledge/",
            {"password": "pw", "full_name": user.get_full_name(), "content_hash": "0" * 64},
            format="json",
        )
        read = api.get(f"/api/v1/plan-versions/{version_id}/")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    return {
        "write": [write.status_code, write.headers.get("Retry-After"), write.json()],
        "read": read.status_code,
    }


def _escalate_while_locked(username, seconds):
    """Another process holds the write lock for `seconds` (longer than the busy timeout)
    while the timer runs."""
    import sqlite3
    import time
    from io import StringIO

    from django.conf import settings
    from django.core.management import call_command

    holder = sqlite3.connect(
        settings.DATABASES["default"]["NAME"], isolation_level=None, check_same_thread=False
    )
    holder.execute("BEGIN IMMEDIATE")

    def release():
        time.sleep(seconds)
        holder.execute("ROLLBACK")

    releaser = threading.Thread(target=release)
    releaser.start()
    out = StringIO()
    try:
        call_command("escalate_overdue_incidents", "--user", username, stdout=out)
        outcome = {"ok": True, "out": out.getvalue()}
    except Exception as exc:  # noqa: BLE001  (reported to the test, which asserts none)
        outcome = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    releaser.join()
    holder.close()
    return outcome


def main(argv):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.conf import settings

    # The copied test database's passwords were hashed with the suite's fast hasher
    # (tests/conftest.py); signing an acknowledgement checks the password against it.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    command, *args = argv
    if command == "acknowledge":
        result = _acknowledge(int(args[0]), int(args[1]), int(args[2]))
    elif command == "escalate-while-locked":
        result = _escalate_while_locked(args[0], float(args[1]))
    elif command == "locked":
        result = _locked(int(args[0]), int(args[1]))
    else:
        result = _escalate(args[0], int(args[1]))
    sys.stdout.write("RESULT " + json.dumps(result) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])

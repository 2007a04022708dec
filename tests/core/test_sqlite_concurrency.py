"""The embedded SQLite default holds a small team's concurrency: no "database is locked" 500.

WAL lets readers run beside the writer, the busy timeout makes a writer wait its turn, and
IMMEDIATE transactions take the write lock when they begin (a DEFERRED transaction that read
first cannot wait for it: SQLite refuses at once). What still times out is a 503 with
Retry-After. The data is built here, copied from the in-memory test database into a file, and
loaded from a separate process configured like a deployment on that file (sqlite_worker.py).
"""

import datetime
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from incidents.models import EscalationRule
from tests import factories
from tests.incidents import factories as f
from tests.plans.factories import published_plan

ROOT = Path(settings.BASE_DIR)


@pytest.fixture
def sqlite_file(tmp_path):
    """A file holding a copy of the test database as it is when called (schema, triggers, rows)."""
    if connection.vendor != "sqlite":
        pytest.skip("tests the SQLite configuration; PostgreSQL has its own concurrency tests")

    def copy():
        path = tmp_path / "db.sqlite3"
        connection.ensure_connection()
        target = sqlite3.connect(path)
        connection.connection.backup(target)
        target.close()
        return path

    return copy


def run_worker(db_path, *args, **extra_env):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{db_path}",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "TASK_BACKEND": "immediate",
        "DEBUG": "1",
        **extra_env,
    }
    done = subprocess.run(
        [sys.executable, "-m", "tests.core.sqlite_worker", *map(str, args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT ")), done.stderr


def count(db_path, sql, *params):
    with sqlite3.connect(db_path) as db:
        return db.execute(sql, params).fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_thirty_concurrent_duplicate_acknowledgements_give_one_row_and_no_500(sqlite_file):
    plan, version, _, _ = published_plan(approver=factories.approver(username="ap"))
    member = factories.staff(username="twin", first_name="Twin", last_name="Request")
    path = sqlite_file()

    result, stderr = run_worker(path, "acknowledge", version.pk, member.pk, 30)

    answers = result["answers"]
    assert len(answers) == 30
    assert [a for a in answers if a[0] >= 500 and not (a[0] == 503 and a[1])] == []
    assert "database is locked" not in stderr
    assert sum(1 for status, _ in answers if status == 201) == 1
    assert all(status in (200, 201, 503) for status, _ in answers)
    assert (
        count(
            path,
            "SELECT COUNT(*) FROM plans_acknowledgement WHERE user_id = ? AND version_id = ?",
            member.pk,
            version.pk,
        )
        == 1
    )


def overdue_p1_incidents(n):
    manager = factories.coordinator(username="mgr")
    f.targets()
    EscalationRule.objects.create(priority="P1", level="2", to_user=manager)
    reporter = factories.staff(username="rep")
    for i in range(n):
        incident = f.incident(reporter, impact=1, urgency=1, title=f"Outage {i}")
        incident.reported_at = timezone.now() - datetime.timedelta(hours=1)
        incident.save()


@pytest.mark.django_db(transaction=True)
def test_two_escalation_timers_at_once_on_sqlite_both_finish_and_escalate_once(sqlite_file):
    overdue_p1_incidents(40)
    path = sqlite_file()

    result, stderr = run_worker(path, "escalate", "mgr", 2)

    assert [o for o in result["outcomes"] if not o["ok"]] == []
    assert "database is locked" not in stderr
    made = sum(int(o["out"].strip().splitlines()[-1].split()[0]) for o in result["outcomes"])
    assert made == 40
    assert count(path, "SELECT COUNT(*) FROM incidents_escalation WHERE automatic") == 40


@pytest.mark.django_db(transaction=True)
def test_a_write_kept_waiting_past_the_busy_timeout_is_a_503_with_retry_after(sqlite_file):
    plan, version, _, _ = published_plan(approver=factories.approver(username="ap"))
    member = factories.staff(username="late", first_name="Late", last_name="Writer")
    path = sqlite_file()

    result, _ = run_worker(path, "locked", version.pk, member.pk, SQLITE_TIMEOUT_SECONDS="1")

    status, retry_after, body = result["write"]
    assert (status, retry_after, body["code"]) == (503, "2", "database_busy")
    assert result["read"] == 200  # WAL: readers are not held up by the writer
    assert count(path, "SELECT COUNT(*) FROM plans_acknowledgement") == 0


@pytest.mark.django_db(transaction=True)
def test_the_escalation_timer_retries_when_the_database_stays_locked(sqlite_file):
    overdue_p1_incidents(3)
    path = sqlite_file()

    result, _ = run_worker(path, "escalate-while-locked", "mgr", 1.5, SQLITE_TIMEOUT_SECONDS="1")

    assert result["ok"], result
    assert result["out"].strip().endswith("3 escalation(s) made.")
    assert count(path, "SELECT COUNT(*) FROM incidents_escalation WHERE automatic") == 3


def test_the_schema_documents_the_busy_answer_on_every_operation(db):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = [
        (path, method, operation)
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
    ]
    assert operations
    assert [(p, m) for p, m, op in operations if "503" not in op["responses"]] == []

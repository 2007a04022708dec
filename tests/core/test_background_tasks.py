"""Background emails: the outbox is delivered at once in development, and on PostgreSQL two
db_worker processes never send one email twice."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.db import connection
from django.test import override_settings

from core.mail import email_queue
from core.models import OutgoingEmail

DB_BACKEND = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


@pytest.mark.django_db
def test_immediate_backend_sends_at_once_on_commit(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        email = email_queue(subject="Hello", body="Body", recipients=["a@example.org", ""])
        assert mail.outbox == []  # nothing leaves before the change commits
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["a@example.org"]
    email.refresh_from_db()
    assert email.status == OutgoingEmail.Status.SENT


@pytest.mark.django_db(transaction=True)
def test_two_workers_never_send_one_email_twice(postgres_only, tmp_path):
    from django_tasks_db.models import DBTaskResult

    with override_settings(TASKS=DB_BACKEND):
        for n in range(100):
            email_queue(
                subject=f"Reminder {n}",
                body="Please act.",
                recipients=[f"p{n}@example.org"],
                on_commit=False,
            )
    assert DBTaskResult.objects.count() == 100
    assert mail.outbox == []  # queued, not sent inside the "request"

    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "TASK_BACKEND": "database",
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(tmp_path),
    }
    command = [
        sys.executable,
        "manage.py",
        "db_worker",
        "--batch",
        "--no-startup-delay",
        "--interval",
        "0.01",
    ]
    command_for = lambda name: [*command, "--worker-id", name]  # noqa: E731
    workers = [
        subprocess.Popen(
            command_for(name),
            cwd=settings.BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for name in ("worker-a", "worker-b")
    ]
    outputs = [w.communicate(timeout=120)[0].decode() for w in workers]
    assert all(w.returncode == 0 for w in workers), outputs

    sent = "".join(p.read_text() for p in Path(tmp_path).iterdir())
    subjects = [line for line in sent.splitlines() if line.startswith("Subject: ")]
    assert sorted(subjects) == sorted(f"Subject: Reminder {n}" for n in range(100))
    assert set(DBTaskResult.objects.values_list("status", flat=True)) == {"SUCCESSFUL"}
    assert set(OutgoingEmail.objects.values_list("status", flat=True)) == {"sent"}
    # Each task was claimed by exactly one worker, and both workers took part
    # (the proof would mean little if one had done everything alone).
    claims = list(DBTaskResult.objects.values_list("worker_ids", flat=True))
    assert all(len(ids) == 1 for ids in claims)
    assert {ids[0] for ids in claims} == {"worker-a", "worker-b"}

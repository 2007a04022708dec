"""Email people whose required training is due soon or overdue, at most once per interval each."""

from itertools import groupby

from django.conf import settings
from django.core.management.base import BaseCommand
from django.urls import reverse

from core.database import retry_when_busy
from core.history import acting_as, resolve_actor
from training import queries, services


def reminder_email(user, rows):
    lines = []
    for row in rows:
        if queries.is_overdue(row):
            lines.append(f"- {row['course_title']}: expired on {row['valid_until']:%d %B %Y}")
        else:
            lines.append(f"- {row['course_title']}: valid until {row['valid_until']:%d %B %Y}")
    subject = "Reminder: training due"
    body = (
        f"Hello {user['first_name'] or user['username']},\n\n"
        "This required training is due soon or overdue:\n\n"
        + "\n".join(lines)
        + f"\n\nSee your training: {settings.SITE_URL}{reverse('training:mine')}\n"
    )
    return subject, body, lines


class Command(BaseCommand):
    help = (
        "Remind people whose required training is due soon or overdue, by email. Each person "
        "is reminded at most once per TRAINING_REMINDER_INTERVAL_DAYS; safe to run from cron on "
        "several machines at once (a per-person row lock decides who sends)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--user", help="Record this user as the actor (default: system).")

    @retry_when_busy  # SQLite: another writer held the database past the busy timeout
    def handle(self, *args, user=None, **options):
        actor = resolve_actor(user)
        sent = skipped = 0
        rows = queries.people_to_remind().iterator(chunk_size=2000)
        with acting_as(actor):
            for user_id, person_rows in groupby(rows, key=lambda row: row["user_id"]):
                person_rows = list(person_rows)
                person = person_rows[0]
                subject, body, lines = reminder_email(person, person_rows)
                if services.reminder_send(
                    user=queries.User(pk=user_id),
                    actor=actor,
                    email=person["email"],
                    subject=subject,
                    body=body,
                    lines=lines,
                ):
                    sent += 1
                else:
                    skipped += 1
        self.stdout.write(
            f"Training reminders sent: {sent}; skipped (reminded within "
            f"{settings.TRAINING_REMINDER_INTERVAL_DAYS} days or being handled elsewhere): "
            f"{skipped}."
        )

"""Email people whose required training is due soon or overdue, at most once per interval each."""

from itertools import groupby

from django.conf import settings
from django.urls import reverse

from core.management.base import ReminderCommand
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


class Command(ReminderCommand):
    help = (
        "Remind people whose required training is due soon or overdue, by email. Each person "
        "is reminded at most once per TRAINING_REMINDER_INTERVAL_DAYS; safe to run from cron on "
        "several machines at once (a per-person row lock decides who sends)."
    )
    label = "Training reminders"
    interval_setting = "TRAINING_REMINDER_INTERVAL_DAYS"

    def reminders(self, actor):
        rows = queries.people_to_remind().iterator(chunk_size=2000)
        for user_id, person_rows in groupby(rows, key=lambda row: row["user_id"]):
            person_rows = list(person_rows)
            person = person_rows[0]
            subject, body, lines = reminder_email(person, person_rows)
            yield services.reminder_send(
                user=queries.User(pk=user_id),
                actor=actor,
                email=person["email"],
                subject=subject,
                body=body,
                lines=lines,
            )

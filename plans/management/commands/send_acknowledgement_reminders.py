"""Email everyone who still owes a plan acknowledgement, at most once per interval per person."""

from core.management.base import ReminderCommand
from plans import notices, queries


class Command(ReminderCommand):
    help = (
        "Remind people with outstanding plan acknowledgements by email. Each person is reminded "
        "at most once per ACKNOWLEDGEMENT_REMINDER_INTERVAL_DAYS; safe to run from cron on "
        "several machines at once (a per-person row lock decides who sends)."
    )
    interval_setting = "ACKNOWLEDGEMENT_REMINDER_INTERVAL_DAYS"

    def reminders(self, actor):
        for person in queries.outstanding_people().exclude(email="").iterator(chunk_size=500):
            versions = list(queries.pending_acknowledgements(person))
            if versions:
                yield notices.reminder_send(user=person, actor=actor, versions=versions)

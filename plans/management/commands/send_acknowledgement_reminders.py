"""Email everyone who still owes a plan acknowledgement, at most once per interval per person."""

from django.conf import settings
from django.core.management.base import BaseCommand

from core.database import retry_when_busy
from core.history import acting_as, resolve_actor
from plans import notices, queries


class Command(BaseCommand):
    help = (
        "Remind people with outstanding plan acknowledgements by email. Each person is reminded "
        "at most once per ACKNOWLEDGEMENT_REMINDER_INTERVAL_DAYS; safe to run from cron on "
        "several machines at once (a per-person row lock decides who sends)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--user", help="Record this user as the actor (default: system).")

    @retry_when_busy  # SQLite: another writer held the database past the busy timeout
    def handle(self, *args, user=None, **options):
        actor = resolve_actor(user)
        sent = skipped = 0
        with acting_as(actor):
            for person in queries.outstanding_people().exclude(email="").iterator(chunk_size=500):
                versions = list(queries.pending_acknowledgements(person))
                if not versions:
                    continue
                if notices.reminder_send(user=person, actor=actor, versions=versions):
                    sent += 1
                else:
                    skipped += 1
        self.stdout.write(
            f"Reminders sent: {sent}; skipped (reminded within "
            f"{settings.ACKNOWLEDGEMENT_REMINDER_INTERVAL_DAYS} days or being handled elsewhere): {skipped}."
        )

"""What the cron commands share: acting as `--user` (the system account by default), and
the reminder loop that counts who was reminded and who was skipped."""

from django.conf import settings
from django.core.management.base import BaseCommand

from core.database import retry_when_busy
from core.history import acting_as, resolve_actor


class ActingCommand(BaseCommand):
    """A command whose writes are recorded in the history as made by `--user`."""

    def add_arguments(self, parser):
        parser.add_argument("--user", help="Record this user as the actor (default: system).")

    def handle(self, *args, user=None, **options):
        actor = resolve_actor(user)
        with acting_as(actor):
            summary = self.act(actor)
        self.stdout.write(summary)

    def act(self, actor):
        """Do the work as `actor`; return the line the command prints."""
        raise NotImplementedError


class ReminderCommand(ActingCommand):
    """Remind each person at most once per `interval_setting` days (their clock row decides,
    so runs on several machines never remind anyone twice)."""

    label = "Reminders"
    interval_setting = ""

    def reminders(self, actor):
        """Send each person's reminder; yield, per person, whether it went."""
        raise NotImplementedError

    @retry_when_busy  # SQLite: another writer held the database past the busy timeout
    def handle(self, *args, **options):
        super().handle(*args, **options)

    def act(self, actor):
        sent = skipped = 0
        for delivered in self.reminders(actor):
            if delivered:
                sent += 1
            else:
                skipped += 1
        return (
            f"{self.label} sent: {sent}; skipped (reminded within "
            f"{getattr(settings, self.interval_setting)} days or being handled elsewhere): "
            f"{skipped}."
        )

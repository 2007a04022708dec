"""Cron entry point: remind each outstanding action's owner once its due date has come (once per due date)."""

from core.database import retry_when_busy
from core.management.base import ActingCommand
from incidents import services


class Command(ActingCommand):
    help = (
        "Email the owner of every outstanding incident action due today or earlier, once per "
        "due date. Idempotent and safe to run on several machines at once."
    )

    @retry_when_busy  # SQLite: another writer held the database past the busy timeout
    def handle(self, *args, **options):
        super().handle(*args, **options)

    def act(self, actor):
        reminded = services.action_due_remind(actor=actor)
        lines = [
            f"Reminded {a.owner.username} of an action on {a.incident.reference}" for a in reminded
        ]
        return "\n".join([*lines, f"{len(reminded)} due reminder(s) sent."])

"""Cron entry point: escalate open incidents that missed their acknowledge target (once per rule)."""

from django.core.management.base import BaseCommand

from core.database import retry_when_busy
from core.history import acting_as, resolve_actor
from core.mail import resend_due
from incidents import services


class Command(BaseCommand):
    help = (
        "Escalate, by the escalation rules, every open incident not acknowledged within its "
        "priority's target, and every open incident with a notification obligation breached. Idempotent and safe to run on several machines at once."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--user", help="Record this user as the actor (default: the system user)."
        )

    @retry_when_busy  # SQLite: another writer held the database past the busy timeout
    def handle(self, *args, user=None, **options):
        actor = resolve_actor(user)
        with acting_as(actor):
            created = services.escalate_overdue(actor=actor)
            # Notification obligations past their due time, unsubmitted: once each.
            created += services.escalate_breached_obligations(actor=actor)
            # The same cron retries failed emails (escalations above all): django-tasks does not.
            retried = resend_due()
        for escalation in created:
            self.stdout.write(
                f"Escalated {escalation.incident.reference} to level {escalation.level}"
            )
        self.stdout.write(f"{len(created)} escalation(s) made.")
        if retried:
            self.stdout.write(f"{len(retried)} failed email(s) retried.")

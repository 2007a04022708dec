"""Cron entry point: deliver again the emails that failed (or whose task was lost), with a growing delay."""

from django.core.management.base import BaseCommand

from core.history import acting_as, resolve_actor
from core.mail import resend_due


class Command(BaseCommand):
    help = (
        "Retry every failed email whose next attempt is due (after 2, 4, 8, … minutes, up to "
        "EMAIL_MAX_ATTEMPTS) and every queued one whose task was lost. Each email is locked "
        "while it is sent, so runs on several machines never send one twice."
    )

    def add_arguments(self, parser):
        parser.add_argument("--user", help="Record this user as the actor (default: system).")

    def handle(self, *args, user=None, **options):
        with acting_as(resolve_actor(user)):
            emails = resend_due()
        sent = sum(1 for email in emails if email.status == email.Status.SENT)
        self.stdout.write(f"Emails retried: {len(emails)}; delivered: {sent}.")

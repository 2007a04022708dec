"""Cron entry point: deliver again the emails that failed (or whose task was lost), with a growing delay."""

from core.mail import resend_due
from core.management.base import ActingCommand


class Command(ActingCommand):
    help = (
        "Retry every failed email whose next attempt is due (after 2, 4, 8, … minutes, up to "
        "EMAIL_MAX_ATTEMPTS) and every queued one whose task was lost. Each email is locked "
        "while it is sent, so runs on several machines never send one twice."
    )

    def act(self, actor):
        emails = resend_due()
        sent = sum(1 for email in emails if email.status == email.Status.SENT)
        return f"Emails retried: {len(emails)}; delivered: {sent}."

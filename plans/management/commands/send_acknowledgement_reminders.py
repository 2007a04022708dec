"""Email everyone who still owes a plan acknowledgement, at most once per interval per person."""

from django.conf import settings
from django.core.management.base import BaseCommand

from core.database import retry_when_busy
from core.history import acting_as, resolve_actor
from core.mail import send_message
from plans import queries, services
from plans.tasks import acknowledge_url


def reminder_email(user, versions):
    lines = [
        f"- {v.plan.title} version {v.number} (due {v.acknowledge_by:%d %B %Y}): {acknowledge_url(v)}"
        for v in versions
    ]
    subject = "Reminder: plans waiting for your acknowledgement"
    body = (
        f"Hello {user.get_full_name() or user.get_username()},\n\n"
        "You still have to read and acknowledge:\n\n" + "\n".join(lines) + "\n"
    )
    return subject, body


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
                subject, body = reminder_email(person, versions)

                def send(person=person, subject=subject, body=body):
                    send_message(subject=subject, body=body, recipients=[person.email])

                if services.reminder_send(user=person, actor=actor, versions=versions, send=send):
                    sent += 1
                else:
                    skipped += 1
        self.stdout.write(
            f"Reminders sent: {sent}; skipped (reminded within "
            f"{settings.ACKNOWLEDGEMENT_REMINDER_INTERVAL_DAYS} days or being handled elsewhere): {skipped}."
        )

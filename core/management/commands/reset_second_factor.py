"""Remove a person's second factor from the server's shell (core.second_factor.operator_reset)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from core import second_factor
from core.errors import DomainError
from core.history import acting_as, resolve_actor


class Command(BaseCommand):
    help = (
        "Remove a person's authenticator app and recovery codes, so they enrol again at their "
        "next admin sign-in. For when nobody who may reset it in the admin can sign in; the "
        "reason is recorded in the history."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--reason", required=True, help="Why (recorded in the history).")
        parser.add_argument("--user", help="Record this user as the actor (default: system).")

    def handle(self, *args, username, reason, user=None, **options):
        actor = resolve_actor(user)
        person = get_user_model().objects.filter(username=username).first()
        if person is None:
            raise CommandError(f"No user named {username!r}.")
        with acting_as(actor):
            try:
                removed = second_factor.operator_reset(actor=actor, user=person, reason=reason)
            except DomainError as exc:
                raise CommandError(exc.message) from exc
        if not removed:
            self.stdout.write(f"{username} had no second factor; nothing changed.")
        else:
            self.stdout.write(
                f"Second factor of {username} removed ({removed} device(s)); they enrol again "
                "at their next admin sign-in."
            )

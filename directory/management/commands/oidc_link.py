"""Link a local account to a person's identity at the OpenID provider (README, "Sign-in
through an OpenID provider"): for the first sign-ins that are not linked by themselves."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from core.errors import DomainError
from core.history import acting_as, resolve_actor
from directory import services


class Command(BaseCommand):
    help = "Link USERNAME to the identity SUBJECT (the provider's `sub`) at the issuer."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("subject", help="The provider's `sub` for this person.")
        parser.add_argument("--issuer", default=None, help="Default: OIDC_ISSUER.")
        parser.add_argument("--user", help="Record this user as the actor (default: system).")

    def handle(self, *args, username, subject, issuer=None, user=None, **options):
        issuer = issuer or settings.OIDC_ISSUER
        if not issuer:
            raise CommandError("Give --issuer (OIDC_ISSUER is not set).")
        person = get_user_model().objects.filter(username=username).first()
        if person is None:
            raise CommandError(f"No user named {username!r}.")
        actor = resolve_actor(user)
        with acting_as(actor):
            try:
                services.oidc_link(user=person, issuer=issuer, subject=subject, actor=actor)
            except DomainError as exc:
                raise CommandError(exc.message) from exc
        self.stdout.write(f"{username} is linked to {subject} at {issuer}.")

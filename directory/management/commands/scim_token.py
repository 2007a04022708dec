"""Bearer tokens for SCIM provisioning: create (printed once), revoke, list."""

from django.core.management.base import BaseCommand, CommandError

from core.errors import DomainError
from core.history import acting_as, resolve_actor
from directory import services
from directory.models import ScimToken


class Command(BaseCommand):
    help = "Create, revoke or list the bearer tokens a directory provisions with over SCIM."

    def add_arguments(self, parser):
        parser.add_argument("--user", help="Record this user as the actor (default: system).")
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="Make a token; it is printed once.")
        create.add_argument("--name", required=True)
        revoke = actions.add_parser("revoke", help="Refuse a token from now on.")
        revoke.add_argument("name")
        actions.add_parser("list", help="Names, creation, last use, revocation.")

    def handle(self, *args, action, user=None, **options):
        actor = resolve_actor(user)
        with acting_as(actor):
            if action == "create":
                try:
                    token, raw = services.token_create(name=options["name"], actor=actor)
                except DomainError as exc:
                    raise CommandError(exc.message) from exc
                self.stdout.write(raw)
                self.stderr.write(
                    f"Token {token.name!r} created. It is shown this once; keep it in the "
                    "directory's provisioning settings."
                )
            elif action == "revoke":
                token = ScimToken.objects.filter(name=options["name"]).first()
                if token is None:
                    raise CommandError(f"No token named {options['name']!r}.")
                services.token_revoke(token=token, actor=actor)
                self.stdout.write(f"Token {token.name!r} revoked.")
            else:
                for token in ScimToken.objects.order_by("name"):
                    self.stdout.write(
                        f"{token.name}\tcreated {token.created_at:%Y-%m-%d %H:%M}"
                        f"\tlast used {token.last_used_at or 'never'}"
                        f"\t{'revoked ' + str(token.revoked_at) if token.revoked_at else 'active'}"
                    )

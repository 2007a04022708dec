"""One-off: plan change requests filed by confidential incidents' reviews stop quoting them."""

from django.core.management.base import BaseCommand

from core.history import acting_as, resolve_actor
from incidents import services


class Command(BaseCommand):
    help = (
        "Restate every plan change request that a confidential incident's post-incident review "
        "filed and that still quotes the incident (filed before such requests were written "
        "without it). Idempotent; each change is in the request's history."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--user", help="Record this user as the actor (default: the system user)."
        )

    def handle(self, *args, user=None, **options):
        actor = resolve_actor(user)
        with acting_as(actor):
            count = services.restate_confidential_change_requests(actor=actor)
        self.stdout.write(f"{count} change request(s) restated.")

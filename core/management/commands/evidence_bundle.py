"""Write an evidence bundle to a file: `manage.py evidence_bundle KIND KEY --as USER --output FILE`.

The kinds come from the apps (each app's `bundle.KINDS`: incidents give `incident`, by
reference or id; plans give `plan-version`, by id or "CODE vN"). The bundle is what `--as`
may export: the same visibility and masks as the API's `…/evidence/`, so a command run as
a coordinator exports no more than that coordinator sees.
"""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from core import bundles
from core.discovery import app_modules
from core.errors import DomainError


def kinds():
    found = {}
    for _config, module in app_modules("bundle"):
        found.update(getattr(module, "KINDS", {}))
    return found


class Command(BaseCommand):
    help = "Write the evidence bundle of one record (a zip with manifest.json and verify.py)."

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=sorted(kinds()))
        parser.add_argument("key", help="Which record: an incident's reference or id, a plan version's id or 'CODE vN'.")
        parser.add_argument("--as", dest="reader", required=True, help="Export as this user (their rights and masks apply).")
        parser.add_argument("--output", required=True, help="The zip file to write.")

    def handle(self, *args, kind, key, reader, output, **options):
        user = get_user_model()._default_manager.filter(username=reader, is_active=True).first()
        if user is None:
            raise CommandError(f"No active user {reader!r}.")
        if not user.has_perm("core.view_history"):
            raise CommandError(f"{reader} may not read history, so may not export evidence.")
        find, build = kinds()[kind]
        try:
            record = find(user, key)
        except DomainError as error:
            raise CommandError(str(error)) from error
        if record is None:
            raise CommandError(f"No {kind} {key!r} that {reader} may see.")
        bundle = build(record, user)
        bundles.write_to(bundle, output)
        self.stdout.write(f"Wrote {bundle.subject} to {output}.")

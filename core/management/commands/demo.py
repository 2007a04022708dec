"""Loads the demo data of every app (idempotent); refuses to run when DEBUG is off."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.test.utils import override_settings

from core.discovery import app_modules
from core.history import acting_as, system_user


class Command(BaseCommand):
    help = "Load demo users and data for every app. Safe to run twice. Development only."

    def add_arguments(self, parser):
        parser.add_argument(
            "--force", action="store_true", help="Run even with DEBUG off (never in production)."
        )

    def handle(self, *args, force=False, **options):
        if not settings.DEBUG and not force:
            raise CommandError("Refusing to load demo data with DEBUG off.")
        actor = system_user()
        # Demo notifications (publication notices, escalations) are real sends
        # through the services, but nobody should read them: keep them in memory.
        quiet_mail = override_settings(
            EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"
        )
        with quiet_mail, transaction.atomic(), acting_as(actor):
            self.stdout.write("Loading demo data:")
            context = {}
            # In INSTALLED_APPS order: an app's demo may use what an earlier one loaded
            # (context[label]).
            for app_config, module in app_modules("demo"):
                context[app_config.label] = module.load(self.stdout, actor=actor, context=context)
        self.stdout.write(self.style.SUCCESS("Demo data ready."))

"""Recompute the fingerprint of every submitted plan version and report any mismatch."""

from django.core.management.base import BaseCommand, CommandError
from django.db.models import F

from plans.fingerprint import version_fingerprint
from plans.models import Acknowledgement, PlanVersion


class Command(BaseCommand):
    help = (
        "Recompute the SHA-256 fingerprint of every plan version that left draft and compare it "
        "with the stored one (and with every acknowledgement's). Exits non-zero on any mismatch."
    )

    def handle(self, *args, **options):
        versions = (
            PlanVersion.objects.exclude(status=PlanVersion.Status.DRAFT)
            .select_related("plan")
            .order_by("plan__code", "number")
        )
        checked, problems = 0, []
        for version in versions.iterator(chunk_size=200):
            checked += 1
            actual = version_fingerprint(version)
            if actual != version.content_hash:
                problems.append(
                    f"{version.plan.code} v{version.number}: stored {version.content_hash}, "
                    f"content gives {actual}"
                )
        wrong_acks = (
            Acknowledgement.objects.exclude(content_hash=F("version__content_hash"))
            .select_related("version", "version__plan", "user")
            .order_by("pk")
        )
        for ack in wrong_acks.iterator(chunk_size=500):
            problems.append(
                f"acknowledgement {ack.pk} by {ack.user.get_username()} of "
                f"{ack.version.plan.code} v{ack.version.number}: signed {ack.content_hash}, "
                f"version has {ack.version.content_hash}"
            )
        for problem in problems:
            self.stderr.write(f"MISMATCH {problem}")
        if problems:
            raise CommandError(f"{len(problems)} fingerprint mismatch(es) in {checked} versions.")
        self.stdout.write(self.style.SUCCESS(f"All {checked} version fingerprints match."))

"""Benchmark: the compliance view of one version at 10,000 audience members (run by hand).

    DATABASE_URL=postgres://… .venv/bin/python tests/bench/plans_compliance.py [members]

Builds its own throw-away data in the configured database inside a transaction
that is rolled back at the end, and prints query counts and timings.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.db import connection, reset_queries, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from simple_history.utils import bulk_create_with_history  # noqa: E402

from core.history import acting_as  # noqa: E402
from core.signing import system_proof  # noqa: E402
from plans import queries, services  # noqa: E402
from plans.models import Acknowledgement  # noqa: E402


class Rollback(Exception):
    pass


def measure(label, fn):
    reset_queries()  # the setup filled the query log; start counting from zero
    with CaptureQueriesContext(connection) as ctx:
        start = time.perf_counter()
        result = fn()
        elapsed = time.perf_counter() - start
    print(f"{label:<42} {len(ctx):>3} queries {elapsed * 1000:>9.1f} ms")
    return result


def main(size):
    User = get_user_model()
    try:
        with transaction.atomic():
            group = Group.objects.create(name="Bench audience")
            author = User.objects.create(username="bench-author", first_name="B", last_name="A")
            approver = User.objects.create(username="bench-approver", first_name="B", last_name="P")
            from django.contrib.auth.models import Permission

            author.user_permissions.add(*Permission.objects.filter(content_type__app_label="plans"))
            approver.user_permissions.add(
                *Permission.objects.filter(content_type__app_label="plans")
            )
            with acting_as(author):
                plan = services.plan_create(
                    actor=author, code="BENCH", title="Bench", audience=[group]
                )
                version = plan.versions.get()
                services.version_submit(
                    version=version, actor=author, proof=system_proof(author, "benchmark data")
                )
                services.version_approve(
                    version=version, actor=approver, proof=system_proof(approver, "benchmark data")
                )
                services.version_publish(
                    version=version, actor=approver, proof=system_proof(approver, "benchmark data")
                )
                version.refresh_from_db()
                users = bulk_create_with_history(
                    [
                        User(username=f"bench{i}", first_name="Member", last_name=f"{i:05}")
                        for i in range(size)
                    ],
                    User,
                    batch_size=2000,
                )
                users = list(
                    User.objects.filter(username__startswith="bench").exclude(
                        pk__in=[author.pk, approver.pk]
                    )
                )
                # Forward side: simple-history records group membership on the user.
                for user in users:
                    user.groups.add(group)
                bulk_create_with_history(
                    [
                        Acknowledgement(
                            user=u,
                            version=version,
                            full_name=u.get_full_name(),
                            statement=version.statement,
                            content_hash=version.content_hash,
                        )
                        for u in users[: size * 6 // 10]
                    ],
                    Acknowledgement,
                    batch_size=2000,
                )
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
            print(f"{connection.vendor}: audience {size}, 60% acknowledged")
            measure("compliance_summary (counts)", lambda: queries.compliance_summary(version))
            measure(
                "outstanding_users (all names)",
                lambda: list(queries.outstanding_users(version).values_list("pk", "username")),
            )
            measure(
                "compliance_rows, first admin page (100)",
                lambda: list(queries.compliance_rows(version)[:100]),
            )
            measure(
                "compliance_rows, full CSV iteration",
                lambda: sum(1 for _ in queries.compliance_rows(version).iterator(chunk_size=2000)),
            )
            measure(
                "versions with progress columns",
                lambda: list(queries.with_progress(version.plan.versions.all())),
            )
            from rest_framework.test import APIClient

            root = User.objects.create(username="bench-root", is_superuser=True)
            client = APIClient()
            client.force_authenticate(root)
            response = measure(
                "GET /api/v1/plan-versions/{id}/compliance/",
                lambda: client.get(f"/api/v1/plan-versions/{version.pk}/compliance/"),
            )
            assert response.status_code == 200, response.content[:500]
            raise Rollback
    except Rollback:
        pass


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)

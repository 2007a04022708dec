"""Benchmark: training compliance at 10,000 people and 10 required courses (run by hand).

    DATABASE_URL=postgres://… .venv/bin/python tests/bench/training_compliance.py [people] [courses]

Builds its own throw-away data in the configured database inside a transaction
that is rolled back at the end, and prints query counts and timings. Each
person has completions of most courses, spread so that every state occurs.
"""

import datetime
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.db import connection, reset_queries, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402
from simple_history.utils import bulk_create_with_history  # noqa: E402

from training import queries  # noqa: E402
from training.models import Course, Record, Session  # noqa: E402


class Rollback(Exception):
    pass


def measure(label, fn, repeat=5):
    reset_queries()
    with CaptureQueriesContext(connection) as ctx:
        result = fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    print(
        f"{label:<58} {len(ctx):>3} queries  median {statistics.median(samples):>8.1f} ms"
        f"  max {max(samples):>8.1f} ms"
    )
    return result


def main(size, n_courses):
    User = get_user_model()
    now = timezone.now()
    try:
        with transaction.atomic():
            group = Group.objects.create(name="Bench trainees")
            courses = bulk_create_with_history(
                [
                    Course(title=f"Bench course {i:02}", kind="course", validity_days=90 + 30 * i)
                    for i in range(n_courses)
                ],
                Course,
            )
            courses = list(Course.objects.filter(title__startswith="Bench course").order_by("pk"))
            for course in courses:
                course.required_for.add(group)
            sessions = []
            for course in courses:
                for days_ago in (5, 60, 100, 400):
                    starts = now - datetime.timedelta(days=days_ago)
                    sessions.append(
                        Session(
                            course=course,
                            title=f"{course.title} -{days_ago}d",
                            starts_at=starts,
                            ends_at=starts + datetime.timedelta(hours=2),
                            status="completed",
                        )
                    )
            bulk_create_with_history(sessions, Session, batch_size=2000)
            sessions = list(Session.objects.filter(title__startswith="Bench course"))
            by_course = {}
            for session in sessions:
                by_course.setdefault(session.course_id, []).append(session)
            bulk_create_with_history(
                [
                    User(username=f"trainee{i:05}", first_name="Trainee", last_name=f"{i:05}")
                    for i in range(size)
                ],
                User,
                batch_size=2000,
            )
            users = list(User.objects.filter(username__startswith="trainee").order_by("pk"))
            Membership = User.groups.through
            Membership.objects.bulk_create(
                [Membership(user_id=u.pk, group_id=group.pk) for u in users], batch_size=5000
            )
            records = []
            for i, user in enumerate(users):
                for j, course in enumerate(courses):
                    pick = (i + j) % 5
                    if pick == 4:
                        continue  # never
                    session = by_course[course.pk][pick % 4]
                    records.append(
                        Record(
                            user=user,
                            session=session,
                            course_id=session.course_id,
                            status="completed",
                            completed_at=session.ends_at,
                            valid_until=course.expiry_of(session.ends_at),
                        )
                    )
            bulk_create_with_history(records, Record, batch_size=5000)
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
            print(
                f"{connection.vendor}: {size} people x {n_courses} required courses = "
                f"{size * n_courses} compliance rows, {len(records)} completion records"
            )
            measure(
                "compliance_rows, first page (25)", lambda: list(queries.compliance_rows()[:25])
            )
            measure(
                "compliance_rows, state=overdue, first page (25)",
                lambda: list(queries.compliance_rows(state="overdue")[:25]),
            )
            measure(
                "compliance_rows, one person",
                lambda: list(queries.compliance_rows(user=users[123])),
            )
            measure(
                "compliance_rows, one course, page (100)",
                lambda: list(queries.compliance_rows(course=courses[3])[:100]),
            )
            measure("compliance_counts (per course, all rows)", queries.compliance_counts)
            measure(
                "compliance_rows, full iteration (CSV)",
                lambda: sum(1 for _ in queries.compliance_rows().iterator(chunk_size=2000)),
                repeat=1,
            )
            root = User.objects.create(username="bench-root", is_superuser=True, is_staff=True)
            client = Client()
            client.force_login(root)
            for label, url in [
                ("GET /api/v1/training/compliance/", "/api/v1/training/compliance/"),
                (
                    "GET /api/v1/training/compliance/?page_size=100",
                    "/api/v1/training/compliance/?page_size=100",
                ),
                (
                    "GET /api/v1/training/compliance/?state=due_soon",
                    "/api/v1/training/compliance/?state=due_soon",
                ),
                (
                    f"GET /api/v1/training/compliance/?user={users[77].pk}",
                    f"/api/v1/training/compliance/?user={users[77].pk}",
                ),
                (
                    "GET /api/v1/training/compliance/?course=…&page=50",
                    f"/api/v1/training/compliance/?course={courses[0].pk}&page=50",
                ),
                ("GET /admin/training/course/ (progress)", "/admin/training/course/"),
                ("GET /admin/training/course/compliance/", "/admin/training/course/compliance/"),
            ]:
                response = measure(label, lambda url=url: client.get(url))
                assert response.status_code == 200, (url, response.content[:500])

            def csv_export():
                response = client.get("/admin/training/course/compliance.csv")
                return sum(len(chunk) for chunk in response.streaming_content)

            measure("GET /admin/training/course/compliance.csv (streamed)", csv_export, repeat=1)
            raise Rollback
    except Rollback:
        pass


if __name__ == "__main__":
    main(
        int(sys.argv[1]) if len(sys.argv) > 1 else 10_000,
        int(sys.argv[2]) if len(sys.argv) > 2 else 10,
    )

"""Fixtures for every test: a user in each role, API clients signed in as them."""

from importlib import import_module

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from rest_framework.test import APIClient

from core.evidence import install_history_guards, remove_history_guards
from tests import factories


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture(autouse=True)
def _attachments_in_tmp(settings, tmp_path_factory):
    """Evidence files go to a folder of this test (the database's rows of one test are rolled
    back; its files would otherwise stay for the next), never the project's `attachments/`."""
    root = tmp_path_factory.mktemp("attachments")
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(root), "base_url": None},
        },
    }


@pytest.fixture(autouse=True)
def _fresh_cache():
    """API throttles count in the cache; each test starts with none used."""
    cache.clear()
    yield
    cache.clear()


GUARD_MIGRATIONS = (
    "plans.migrations.0002_immutability_triggers",
    "plans.migrations.0004_replace_and_truncate_guards",
    "plans.migrations.0007_review_and_stamp_guards",
    "incidents.migrations.0011_attachments",
    "plans.migrations.0012_signature_guards",
)


def _guard_statements(direction):
    """The SQL that installs (FORWARD) or removes (BACKWARD) the plan evidence guards here."""
    vendor = {"sqlite": "SQLITE", "postgresql": "PG"}[connection.vendor]
    order = GUARD_MIGRATIONS if direction == "FORWARD" else reversed(GUARD_MIGRATIONS)
    return [
        statement
        for module in order
        for statement in getattr(import_module(module), f"{vendor}_{direction}")
    ]


@pytest.fixture(autouse=True)
def _reset_evidence_after_transactional_tests(request):
    """Transactional tests (browser journeys, concurrency) commit real rows; the
    database refuses to delete published plan text, acknowledgements and history, so
    the usual flush between tests would fail. Lift the guards, empty the database,
    put the guards back: the guards are never off while a test runs."""
    marker = request.node.get_closest_marker("django_db")
    if not (marker and marker.kwargs.get("transaction")):
        yield
        return
    request.getfixturevalue("_django_db_helper")  # so ours tears down first
    yield
    remove_history_guards(connection)
    with connection.cursor() as cursor:
        for statement in _guard_statements("BACKWARD"):
            cursor.execute(statement)
    try:
        call_command("flush", interactive=False, verbosity=0, inhibit_post_migrate=True)
    finally:
        with connection.cursor() as cursor:
            for statement in _guard_statements("FORWARD"):
                cursor.execute(statement)
        install_history_guards(connection)


@pytest.fixture
def coordinator(db):
    return factories.coordinator(username="coord")


@pytest.fixture
def approver(db):
    return factories.approver(username="appr")


@pytest.fixture
def compliance_user(db):
    return factories.compliance(username="audit")


@pytest.fixture
def staff_user(db):
    return factories.staff(username="emp")


@pytest.fixture
def superuser(db):
    return factories.UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def api():
    """`api(user)` returns an APIClient signed in (session-less) as that user; `api()` anonymous."""

    def make(user=None):
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return make


@pytest.fixture
def postgres_only():
    """Use in tests of what only PostgreSQL can show (row locks, concurrent requests)."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: run with DATABASE_URL=postgres://… (CI does)")


@pytest.fixture
def sqlite_only():
    """Use in tests of SQLite's own statements (REPLACE INTO, UPDATE OR REPLACE)."""
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only: the default run (no DATABASE_URL) covers it")


@pytest.fixture(scope="session")
def oidc_provider():
    """The loopback OpenID provider (tests/oidc_support.py), one for the test session."""
    from tests.oidc_support import start_provider, stop_provider

    provider = start_provider()
    yield provider
    stop_provider(provider)


@pytest.fixture
def oidc(oidc_provider, settings, db):
    """OIDC configured against the loopback provider, its accounts as seeded."""
    from tests.oidc_support import configure

    oidc_provider.reset()
    configure(settings, oidc_provider)
    return oidc_provider

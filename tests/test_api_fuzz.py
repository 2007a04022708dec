"""API fuzzing: schemathesis generates requests for every operation of our OpenAPI schema.

Signed in as a superuser (so every code path is reachable) over the demo
data, each operation must never answer 5xx, must answer only the status codes
the schema documents, and must conform to the documented response schema.
"""

from io import StringIO

import pytest
import schemathesis
from django.core import signals
from django.core.management import call_command
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application
from tests import factories

schema = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
schema.app = application

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
]


@pytest.fixture
def keep_test_connection():
    """Requests go straight to the WSGI app; like Django's test client, keep the
    test's database connection (and its transaction) open between them."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def auth_headers(db, settings, keep_test_connection, monkeypatch):
    settings.DEBUG = True  # the demo loader refuses otherwise
    # A few incidents (one of them closed, one cancelled) are enough to fuzz over.
    import incidents.demo

    monkeypatch.setattr(
        incidents.demo, "PATHS", ["reported", "investigating", "closed", "cancelled"]
    )
    call_command("demo", stdout=StringIO())
    settings.DEBUG = False  # answer as production does (no debug pages)
    root = factories.UserFactory(username="fuzz-root", is_staff=True, is_superuser=True)
    token, _ = Token.objects.get_or_create(user=root)
    return {"Authorization": f"Token {token.key}"}


@schema.parametrize()
@hypothesis_settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_every_operation_survives_generated_input(case, auth_headers, monkeypatch):
    # Throttles would turn later examples into 429s that prove nothing.
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setattr(SimpleRateThrottle, "allow_request", lambda self, request, view: True)
    case.call_and_validate(headers=auth_headers, checks=CHECKS)

"""The browsable API (`Accept: text/html`) renders every list and detail endpoint, never a 500."""

import io
import re

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from incidents.api.urls import router as incidents_router
from plans.api.urls import router as plans_router
from plans.models import PlanVersion
from training.api.urls import router as training_router

pytestmark = pytest.mark.django_db

PLAIN_PATHS = [
    "/api/v1/me/",
    "/api/v1/me/pending-acknowledgements/",
    "/api/v1/metrics/incidents/",
    "/api/v1/training/compliance/",
    "/api/v1/auth/token/",
]


def _detail_paths(client, prefix, viewset):
    """The detail page and every detail action of the first row the list shows."""
    listing = client.get(f"/api/v1/{prefix}/", HTTP_ACCEPT="application/json")
    if listing.status_code != 200 or not listing.json()["results"]:
        # Actions have no list: find a row through the incident they belong to.
        return []
    pk = listing.json()["results"][0]["id"]
    paths = [f"/api/v1/{prefix}/{pk}/"]
    for extra in viewset.get_extra_actions():
        if extra.detail:
            paths.append(f"/api/v1/{prefix}/{pk}/{extra.url_path}/")
    return paths


def _fill_url_kwargs(path):
    """Actions whose url_path is a pattern (a section's key): a key that exists."""
    if "(?P<key>" in path:
        key = PlanVersion.objects.get(plan__code="IRP", number=2).sections.first().key
        return re.sub(r"\(\?P<key>[^)]*\)", key, path)
    return path


def _every_endpoint(client):
    paths = list(PLAIN_PATHS)
    for router in (incidents_router, plans_router, training_router):
        for prefix, viewset, _basename in router.registry:
            paths.append(f"/api/v1/{prefix}/")
            paths.extend(_fill_url_kwargs(p) for p in _detail_paths(client, prefix, viewset))
    incident = client.get("/api/v1/incidents/", HTTP_ACCEPT="application/json").json()
    first = incident["results"][0]["id"]
    actions = client.get(f"/api/v1/incidents/{first}/actions/", HTTP_ACCEPT="application/json")
    # A reporter reads what they reported, not the response to it: 404 for its actions.
    action_rows = actions.json()["results"] if actions.status_code == 200 else []
    if action_rows:
        paths.append(f"/api/v1/actions/{action_rows[0]['id']}/")
        paths.append(f"/api/v1/actions/{action_rows[0]['id']}/history/")
    return paths


@pytest.mark.parametrize("username", ["coordinator", "staff"])
def test_every_api_endpoint_renders_as_html_without_a_server_error(settings, username):
    settings.DEBUG = True  # the demo loader runs only in development
    call_command("demo", stdout=io.StringIO())
    settings.DEBUG = False
    from django.contrib.auth import get_user_model

    client = APIClient(raise_request_exception=False)
    client.force_authenticate(get_user_model().objects.get(username=username))
    paths = _every_endpoint(client)
    assert len(paths) > 30
    answers = {path: client.get(path, HTTP_ACCEPT="text/html").status_code for path in paths}
    failures = {path: code for path, code in answers.items() if code >= 500}
    assert failures == {}
    assert answers["/api/v1/training/compliance/"] == 200

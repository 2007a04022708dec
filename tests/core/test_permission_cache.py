"""Django's two permission queries come from the cache, and a revocation counts at once."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.roles import COORDINATORS

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:incidents_incident_changelist")


def permission_queries(client, url):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    reads = [q["sql"] for q in queries.captured_queries if '"auth_permission"' in q["sql"]]
    return response, reads


def test_a_second_request_runs_no_permission_query(client, coordinator):
    client.force_login(coordinator)
    first, first_reads = permission_queries(client, CHANGELIST)
    second, second_reads = permission_queries(client, CHANGELIST)
    assert first.status_code == second.status_code == 200
    assert len(first_reads) == 2  # the user's own and their groups' permissions
    assert second_reads == []


def test_a_permission_removed_from_the_group_is_refused_on_the_next_request(
    client, coordinator
):
    client.force_login(coordinator)
    assert client.get(CHANGELIST).status_code == 200
    group = Group.objects.get(name=COORDINATORS)
    group.permissions.remove(
        *Permission.objects.filter(
            content_type__app_label="incidents",
            codename__in=("view_incident", "change_incident"),
        )
    )
    assert client.get(CHANGELIST).status_code == 403


def test_a_user_taken_out_of_the_group_is_refused_on_the_next_request(client, coordinator):
    client.force_login(coordinator)
    assert client.get(CHANGELIST).status_code == 200
    Group.objects.get(name=COORDINATORS).user_set.remove(coordinator)
    assert client.get(CHANGELIST).status_code == 403


def test_a_group_granted_again_counts_on_the_next_request(client, coordinator):
    client.force_login(coordinator)
    group = Group.objects.get(name=COORDINATORS)
    coordinator.groups.remove(group)
    assert client.get(CHANGELIST).status_code == 403
    coordinator.groups.add(group)
    assert client.get(CHANGELIST).status_code == 200


def test_a_superuser_flag_taken_away_counts_on_the_next_request(client, superuser):
    client.force_login(superuser)
    assert client.get(CHANGELIST).status_code == 200
    superuser.is_superuser = False
    superuser.save()
    assert client.get(CHANGELIST).status_code == 403


def test_without_the_cache_every_request_asks_the_database(client, coordinator, settings):
    settings.PERMISSION_CACHE = False
    client.force_login(coordinator)
    permission_queries(client, CHANGELIST)
    _, second_reads = permission_queries(client, CHANGELIST)
    assert len(second_reads) == 2

"""Each role's reach, proved with users who belong to that one group only."""

import pytest
from django.urls import reverse

from core.roles import COMPLIANCE, COORDINATORS, INCIDENT_INTAKE, PLAN_APPROVERS, STAFF
from tests import factories
from tests.incidents import factories as f

pytestmark = pytest.mark.django_db

ROLES = (COORDINATORS, PLAN_APPROVERS, COMPLIANCE, STAFF, INCIDENT_INTAKE)

# permission: (Coordinators, Plan approvers, Compliance, Staff, Incident intake)
REACH = {
    "incidents.add_incident": (True, False, False, True, False),
    "incidents.change_incident": (True, False, False, False, True),
    "incidents.view_incident": (True, False, True, False, True),
    "incidents.add_escalation": (True, False, False, False, True),
    "incidents.change_postincidentreview": (True, False, False, False, False),
    "incidents.see_all_confidential": (False, False, True, False, False),
    "incidents.see_reporter_identity": (False, False, True, False, False),
    "incidents.delete_incident": (False, False, False, False, False),
    "plans.add_plan": (True, False, False, False, False),
    "plans.change_planversion": (
        True,
        True,
        False,
        False,
        False,
    ),  # approvers may author (issue 12)
    "plans.approve_planversion": (False, True, False, False, False),
    "plans.publish_planversion": (False, True, False, False, False),
    "plans.view_unpublished_planversion": (True, True, True, False, False),
    "plans.view_compliance_report": (True, False, True, False, False),
    "plans.add_acknowledgement": (True, True, False, True, False),
    "plans.view_planversion": (True, True, True, True, False),
    "plans.delete_planversion": (False, False, False, False, False),
    "core.view_history": (True, False, True, False, False),
    "core.export_history": (False, False, True, False, False),
    "incidents.triage_unassigned": (False, False, False, False, True),
    "incidents.add_teammember": (True, False, False, False, True),
    "incidents.add_timelineentry": (True, False, False, False, True),
    "incidents.add_action": (True, False, False, False, False),
    "incidents.add_communication": (True, False, False, False, False),
    "incidents.change_category": (True, False, False, False, False),
    "auth.view_user": (True, True, True, False, True),
}


def only(group, **kwargs):
    return factories.UserFactory(groups=[group], is_staff=group != STAFF, **kwargs)


@pytest.mark.parametrize("perm", sorted(REACH))
def test_permission_matrix(perm):
    users = [only(group, username=f"u{i}") for i, group in enumerate(ROLES)]
    assert tuple(user.has_perm(perm) for user in users) == REACH[perm]


def test_compliance_has_only_view_permissions_across_the_apps():
    perms = only(COMPLIANCE).get_all_permissions()
    writes = [p for p in perms if p.split(".")[1].startswith(("add_", "change_", "delete_"))]
    assert writes == []
    assert {"incidents.view_incident", "plans.view_plan", "core.view_history"} <= perms


def incident_calls(incident):
    return [
        ("get", "/api/v1/incidents/", None),
        ("get", f"/api/v1/incidents/{incident.pk}/", None),
        ("patch", f"/api/v1/incidents/{incident.pk}/", {"title": "Renamed"}),
        (
            "post",
            f"/api/v1/incidents/{incident.pk}/transition/",
            {"status": "triaged", "reason": "x"},
        ),
        ("get", f"/api/v1/incidents/{incident.pk}/history/", None),
        ("get", "/api/v1/metrics/incidents/", None),
    ]


# What each role gets for someone else's incident, call by call (as incident_calls lists them).
# Everyone signed in lists the incidents they reported themselves; without the view
# permission others' incidents are not found; writes without the permission are 403.
EXPECTED = {
    COORDINATORS: [200, 200, 200, 200, 200, 200],
    PLAN_APPROVERS: [200, 404, 403, 403, 403, 403],
    COMPLIANCE: [200, 200, 403, 403, 200, 200],
    STAFF: [200, 404, 403, 403, 403, 403],
    # Someone else's report with no manager yet is the intake's to triage; no history, but
    # the metrics of what they see.
    INCIDENT_INTAKE: [200, 200, 200, 200, 403, 200],
}


@pytest.mark.parametrize("group", ROLES)
def test_api_reach_over_someone_elses_incident(api, group):
    incident = f.incident(factories.staff(username="reporter"))
    client = api(only(group, username="actor"))
    got = [
        getattr(client, method)(path, body, format="json").status_code
        for method, path, body in incident_calls(incident)
    ]
    assert got == EXPECTED[group]
    if EXPECTED[group][0] == 200 and EXPECTED[group][1] == 404:
        assert client.get("/api/v1/incidents/").json()["count"] == 0


@pytest.mark.parametrize("group", ROLES)
def test_admin_reach(client, group):
    f.incident(factories.staff(username="reporter"))
    client.force_login(only(group, username="actor"))
    changelist = client.get(reverse("admin:incidents_incident_changelist")).status_code
    add = client.get(reverse("admin:incidents_incident_add")).status_code
    expected = {
        COORDINATORS: (200, 200),
        PLAN_APPROVERS: (403, 403),
        COMPLIANCE: (200, 403),
        STAFF: (302, 302),  # no admin access at all: sent to the sign-in page
        INCIDENT_INTAKE: (200, 403),  # triages what is reported; reports as Staff
    }[group]
    assert (changelist, add) == expected


@pytest.mark.parametrize("last", ["training", "incidents"])
def test_roles_sync_once_after_whichever_app_migrates_last(settings, monkeypatch, last):
    """post_migrate fires per app in INSTALLED_APPS order: the sync runs once, on the last
    signal, whichever app that is (it used to wait for `training`)."""
    from django.apps import apps

    from core import roles

    others = [app for app in settings.INSTALLED_APPS if app not in ("incidents", "training")]
    first = "incidents" if last == "training" else "training"
    settings.INSTALLED_APPS = [*others, first, last]
    synced = []
    monkeypatch.setattr(roles, "sync_roles", lambda registry: synced.append(sent[:]))
    configs = [c for c in apps.get_app_configs() if c.models_module is not None]
    sent = []
    for app_config in configs:
        sent.append(app_config.label)
        roles.sync_roles_after_migrate(sender=app_config, app_config=app_config)
    assert sent[-1] == last
    assert synced == [sent]

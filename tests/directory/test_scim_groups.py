"""SCIM Groups: plan audiences and course requirements filled from the directory; roles out of reach."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from core.roles import COMPLIANCE, COORDINATORS, STAFF
from plans import queries as plan_queries
from tests.directory.conftest import GROUP_SCHEMA, patch_payload, user_payload
from tests.plans.factories import published_plan
from tests.signing import signer_proof

pytestmark = pytest.mark.django_db
User = get_user_model()


def group_payload(name="Responders", members=()):
    return {
        "schemas": [GROUP_SCHEMA],
        "displayName": name,
        "externalId": f"ext-{name}",
        "members": [{"value": str(pk)} for pk in members],
    }


def make_people(scim, *names):
    return [int(scim.post("Users", user_payload(username=name)).data["id"]) for name in names]


def test_create_a_group_with_members_recorded_in_each_members_history(scim):
    alice, bob = make_people(scim, "alice", "bob")
    response = scim.post("Groups", group_payload(members=[alice, bob]))
    assert response.status_code == 201, response.data
    assert {member["value"] for member in response.data["members"]} == {str(alice), str(bob)}
    group = Group.objects.get(name="Responders")
    assert set(group.user_set.values_list("pk", flat=True)) == {alice, bob}
    latest = User.objects.get(pk=alice).history.order_by("-history_id").first()
    assert latest.history_type == "~"
    assert latest.history_user.username == "scim:okta"


def test_patch_adds_and_removes_members(scim):
    alice, bob = make_people(scim, "alice", "bob")
    group_id = scim.post("Groups", group_payload(members=[alice])).data["id"]
    added = scim.patch(
        f"Groups/{group_id}",
        patch_payload({"op": "add", "path": "members", "value": [{"value": str(bob)}]}),
    )
    assert added.status_code == 200, added.data
    assert {member["value"] for member in added.data["members"]} == {str(alice), str(bob)}
    removed = scim.patch(
        f"Groups/{group_id}",
        patch_payload({"op": "remove", "path": f'members[value eq "{alice}"]'}),
    )
    assert removed.status_code == 200, removed.data
    assert [member["value"] for member in removed.data["members"]] == [str(bob)]
    assert not User.objects.get(pk=alice).groups.filter(pk=group_id).exists()


def test_a_member_naming_nobody_is_invalid(scim):
    response = scim.post("Groups", group_payload(members=[424242]))
    assert response.status_code == 400
    assert response.data["scimType"] == "invalidValue"


def test_filter_by_display_name_and_uniqueness(scim):
    scim.post("Groups", group_payload())
    found = scim.get("Groups", filter='displayName eq "responders"').data
    assert found["totalResults"] == 1
    assert scim.post("Groups", group_payload()).status_code == 409


def test_role_groups_are_out_of_reach(scim):
    assert Group.objects.get(name=COORDINATORS).permissions.exists()
    listed = {entry["displayName"] for entry in scim.get("Groups").data["Resources"]}
    assert COORDINATORS not in listed and COMPLIANCE not in listed
    coordinators = Group.objects.get(name=COORDINATORS)
    assert scim.get(f"Groups/{coordinators.pk}").status_code == 404
    assert scim.post("Groups", group_payload(name=COMPLIANCE)).status_code == 409


def test_delete_empties_the_group_and_keeps_it_for_the_plans_naming_it(scim):
    (alice,) = make_people(scim, "alice")
    group_id = scim.post("Groups", group_payload(members=[alice])).data["id"]
    assert scim.delete(f"Groups/{group_id}").status_code == 204
    group = Group.objects.get(pk=group_id)
    assert not group.user_set.exists()
    assert scim.get(f"Groups/{group_id}").status_code == 404


def test_a_person_deactivated_over_scim_drops_out_of_the_outstanding_list_at_once(scim):
    plan, version, _, _ = published_plan(audience=("Responders",))
    (alice,) = make_people(scim, "alice")
    audience = Group.objects.get(name="Responders")
    scim.put(f"Groups/{audience.pk}", group_payload(members=[alice]))
    assert alice in set(plan_queries.outstanding_users(version).values_list("pk", flat=True))
    scim.patch(f"Users/{alice}", patch_payload({"op": "replace", "path": "active", "value": False}))
    assert alice not in set(plan_queries.outstanding_users(version).values_list("pk", flat=True))
    assert plan_queries.compliance_summary(version)["outstanding"] == 0


def test_a_leaver_who_signed_stays_in_the_report_as_former_staff(scim):
    from plans import services as plan_services

    plan, version, author, approver = published_plan()  # audience: Staff
    alice, bob = make_people(scim, "alice", "bob")
    staff = scim.get("Groups", filter=f'displayName eq "{STAFF}"').data["Resources"][0]
    added = scim.patch(
        f"Groups/{staff['id']}",
        patch_payload(
            {"op": "add", "path": "members", "value": [{"value": str(alice)}, {"value": str(bob)}]}
        ),
    )
    assert added.status_code == 200, added.data
    plan_services.acknowledgement_create(
        version=version,
        actor=User.objects.get(pk=alice),
        proof=signer_proof(User.objects.get(pk=alice)),
        full_name="Barbara Jensen",
        content_hash=version.content_hash,
    )
    for pk in (alice, bob):
        scim.patch(
            f"Users/{pk}", patch_payload({"op": "replace", "path": "active", "value": False})
        )
    rows = {row.pk: row.state for row in plan_queries.compliance_rows(version)}
    assert rows[alice] == plan_queries.ComplianceState.FORMER_STAFF
    assert bob not in rows
    assert {author.pk, approver.pk} <= set(rows)
    summary = plan_queries.compliance_summary(version)
    assert summary["audience"] == len(rows) - 1
    assert bob not in set(plan_queries.outstanding_users(version).values_list("pk", flat=True))
    assert version.acknowledgements.filter(user_id=alice).exists()


def _queries_for(scim, path):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert scim.get(path).status_code == 200
    return len(captured)


def test_the_group_list_costs_the_same_queries_at_two_sizes(scim):
    people = make_people(scim, "alice", "bob", "carol")
    scim.post("Groups", group_payload(name="one", members=people[:1]))
    small = _queries_for(scim, "Groups")
    for name in ("two", "three", "four"):
        scim.post("Groups", group_payload(name=name, members=people))
    assert _queries_for(scim, "Groups") == small

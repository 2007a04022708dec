"""Hostile input answers a SCIM 400 (or an empty page), never a 500."""

import pytest
from django.test import override_settings

from tests.directory.conftest import ERROR_SCHEMA, patch_payload, user_payload

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("start", ["99999999999999999999999", str(2**31 + 1), "3"])
def test_a_start_index_past_the_end_is_an_empty_page(scim, start):
    scim.post("Users", user_payload())
    response = scim.get("Users", startIndex=start)
    assert response.status_code == 200, response.data
    assert response.data["totalResults"] == 1
    assert response.data.get("Resources", []) == []


def test_a_huge_count_is_capped(scim):
    scim.post("Users", user_payload())
    response = scim.get("Users", count="99999999999999999999999")
    assert response.status_code == 200, response.data
    assert len(response.data["Resources"]) == 1


def _send_raw(scim, body):
    return scim.client.post("/scim/v2/Users", body, content_type="application/scim+json")


def test_deeply_nested_json_is_invalid_syntax(scim):
    response = _send_raw(scim, "[" * 100000 + "]" * 100000)
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidSyntax"


def test_a_nul_in_the_body_is_invalid_syntax(scim):
    response = _send_raw(scim, '{"userName": "a\\u0000b"}')
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidSyntax"


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_a_body_over_the_upload_limit_is_a_scim_error(scim):
    response = _send_raw(scim, '{"userName": "' + "a" * 2000 + '"}')
    assert response.status_code == 400
    assert response["Content-Type"] == "application/scim+json"
    assert response.json()["schemas"] == [ERROR_SCHEMA]


GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


@pytest.mark.parametrize(
    "name",
    ["Coordinators ", "Compliance\t", " compliance", "Plan  approvers", "ＣＯＭＰＬＩＡＮＣＥ"],
)
def test_a_lookalike_of_a_role_group_is_a_conflict(scim, name):
    response = scim.post("Groups", {"schemas": [GROUP], "displayName": name})
    assert response.status_code == 409, response.data


@pytest.mark.parametrize("name", ["Compliance\u200b", "Com\tpliance", "Comp\u202eliance", "a\x07"])
def test_control_and_invisible_characters_in_a_group_name_are_refused(scim, name):
    response = scim.post("Groups", {"schemas": [GROUP], "displayName": name})
    assert response.status_code == 400, response.data
    assert response.data["scimType"] == "invalidValue"


def test_a_group_name_is_kept_normalised(scim):
    response = scim.post("Groups", {"schemas": [GROUP], "displayName": "  Team   Blue "})
    assert response.status_code == 201, response.data
    assert response.data["displayName"] == "Team Blue"
    renamed = scim.put(
        f"Groups/{response.data['id']}", {"schemas": [GROUP], "displayName": "Coordinators\u00a0"}
    )
    assert renamed.status_code == 409, renamed.data


@pytest.mark.parametrize("value", ["no", 0, 1, None, "off", "False "])
def test_active_must_be_a_boolean(scim, value):
    assert scim.post("Users", user_payload(active=value)).status_code == 400
    created = scim.post("Users", user_payload("other")).data
    operation = {"op": "replace", "path": "active", "value": value}
    response = scim.patch(f"Users/{created['id']}", patch_payload(operation))
    assert response.status_code == 400, response.data
    assert response.data["scimType"] == "invalidValue"
    whole = {"op": "replace", "value": {"active": value}}
    assert scim.patch(f"Users/{created['id']}", patch_payload(whole)).status_code == 400


@pytest.mark.parametrize("value", [True, False, "true", "False"])
def test_active_takes_booleans(scim, value):
    assert scim.post("Users", user_payload(active=value)).status_code == 201


def test_emails_are_capped(scim):
    emails = [{"value": f"a{number}@example.org"} for number in range(11)]
    response = scim.post("Users", user_payload(emails=emails))
    assert response.status_code == 400, response.data
    created = scim.post("Users", user_payload(emails=emails[:10])).data
    operation = {"op": "replace", "path": "emails", "value": emails}
    assert scim.patch(f"Users/{created['id']}", patch_payload(operation)).status_code == 400

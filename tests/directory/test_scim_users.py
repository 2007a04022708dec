"""SCIM Users: create, read, filter, replace, patch, deactivate; every change under the token's name."""

import pytest
from django.contrib.auth import get_user_model

from tests.directory.conftest import ERROR_SCHEMA, patch_payload, user_payload

pytestmark = pytest.mark.django_db
User = get_user_model()


def test_requests_without_a_valid_token_are_refused_with_a_scim_401(client, scim_token):
    for headers in ({}, {"HTTP_AUTHORIZATION": "Bearer wrong"}, {"HTTP_AUTHORIZATION": "Token x"}):
        response = client.get("/scim/v2/Users", **headers)
        assert response.status_code == 401
        assert response["Content-Type"] == "application/scim+json"
        assert response.json()["schemas"] == [ERROR_SCHEMA]


def test_a_revoked_token_is_refused(scim, scim_token):
    from directory import services

    services.token_revoke(token=scim_token, actor=None)
    assert scim.get("Users").status_code == 401


def test_create_maps_the_user_and_records_the_token_as_actor(scim):
    response = scim.post("Users", user_payload())
    assert response.status_code == 201, response.data
    assert response["Content-Type"] == "application/scim+json"
    body = response.data
    assert body["userName"] == "bjensen"
    assert body["externalId"] == "ext-bjensen"
    assert body["name"]["givenName"] == "Barbara"
    assert body["emails"] == [{"value": "bjensen@example.org", "primary": True}]
    assert body["active"] is True
    assert response["Location"].endswith(f"/scim/v2/Users/{body['id']}")
    user = User.objects.get(pk=body["id"])
    assert (user.first_name, user.last_name, user.email) == (
        "Barbara",
        "Jensen",
        "bjensen@example.org",
    )
    assert not user.has_usable_password()
    assert user.history.get().history_user.username == "scim:okta"
    assert user.provisioned.history.get().history_user.username == "scim:okta"


def test_read_and_404(scim):
    created = scim.post("Users", user_payload()).data
    assert scim.get(f"Users/{created['id']}").data["userName"] == "bjensen"
    missing = scim.get("Users/999999")
    assert missing.status_code == 404
    assert missing.data["schemas"] == [ERROR_SCHEMA]
    assert missing.data["status"] == "404"
    assert scim.get("Users/not-a-number").status_code == 404
    assert scim.get("Users/" + "9" * 40).status_code == 404
    assert scim.get("Users", filter=f'id eq "{"9" * 40}"').data["totalResults"] == 0


def test_a_taken_username_is_a_409_uniqueness(scim):
    scim.post("Users", user_payload())
    response = scim.post("Users", user_payload(username="BJensen"))
    assert response.status_code == 409
    assert response.data["scimType"] == "uniqueness"


@pytest.mark.parametrize(
    ("payload", "scim_type"),
    [
        ({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]}, "invalidValue"),
        (
            {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "a b/c"},
            "invalidValue",
        ),
    ],
)
def test_bad_input_is_a_400_with_a_scim_type(scim, payload, scim_type):
    response = scim.post("Users", payload)
    assert response.status_code == 400, response.data
    assert response.data["scimType"] == scim_type


def test_a_body_that_is_not_json_is_invalid_syntax(scim):
    response = scim.client.post("/scim/v2/Users", "{nope", content_type="application/scim+json")
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidSyntax"


def test_filter_by_username_external_id_and_paging(scim):
    for name in ("alice", "bob", "carol"):
        scim.post("Users", user_payload(username=name))
    found = scim.get("Users", filter='userName eq "BOB"').data
    assert found["totalResults"] == 1
    assert found["Resources"][0]["userName"] == "bob"
    assert (
        scim.get("Users", filter='externalId eq "ext-carol"').data["Resources"][0]["userName"]
        == "carol"
    )
    page = scim.get("Users", startIndex=2, count=1).data
    assert (page["startIndex"], page["itemsPerPage"]) == (2, 1)
    assert page["totalResults"] == 3


@pytest.mark.parametrize("bad", ["userName eq", 'nickName eq "x"', 'userName sw "a"'])
def test_a_filter_we_cannot_answer_is_invalid_filter(scim, bad):
    response = scim.get("Users", filter=bad)
    assert response.status_code == 400
    assert response.data["scimType"] == "invalidFilter"


def test_service_users_are_not_listed(scim):
    assert scim.get("Users", filter='userName eq "scim:okta"').data["totalResults"] == 0


def test_put_replaces_the_attributes(scim):
    created = scim.post("Users", user_payload()).data
    payload = user_payload(name={"givenName": "Babs", "familyName": "Jensen-Smith"})
    response = scim.put(f"Users/{created['id']}", payload)
    assert response.status_code == 200, response.data
    assert response.data["name"]["familyName"] == "Jensen-Smith"
    assert User.objects.get(pk=created["id"]).first_name == "Babs"


def test_patch_active_false_deactivates_and_is_recorded(scim):
    created = scim.post("Users", user_payload()).data
    response = scim.patch(
        f"Users/{created['id']}", patch_payload({"op": "replace", "path": "active", "value": False})
    )
    assert response.status_code == 200, response.data
    assert response.data["active"] is False
    user = User.objects.get(pk=created["id"])
    assert not user.is_active
    latest = user.history.order_by("-history_id").first()
    assert latest.history_user.username == "scim:okta"
    assert latest.history_change_reason == "Deactivated over SCIM"


def test_patch_without_a_path_and_a_bad_patch(scim):
    created = scim.post("Users", user_payload()).data
    response = scim.patch(
        f"Users/{created['id']}",
        patch_payload({"op": "replace", "value": {"name": {"givenName": "B", "familyName": "J"}}}),
    )
    assert response.status_code == 200, response.data
    assert User.objects.get(pk=created["id"]).first_name == "B"
    bad = scim.patch(f"Users/{created['id']}", patch_payload({"op": "jump", "path": "active"}))
    assert bad.status_code == 400


def test_delete_deactivates_keeps_the_person_and_answers_404_after(scim):
    created = scim.post("Users", user_payload()).data
    assert scim.delete(f"Users/{created['id']}").status_code == 204
    user = User.objects.get(pk=created["id"])
    assert not user.is_active
    assert user.provisioned.deprovisioned_at is not None
    assert scim.get(f"Users/{created['id']}").status_code == 404


def test_a_deactivated_person_cannot_sign_in(scim, client):
    created = scim.post("Users", user_payload()).data
    user = User.objects.get(pk=created["id"])
    user.set_password("pw-long-enough-1")
    user.save()
    assert client.login(username="bjensen", password="pw-long-enough-1")
    scim.patch(
        f"Users/{created['id']}", patch_payload({"op": "replace", "path": "active", "value": False})
    )
    # The session they had ends too: an inactive user is not loaded from it.
    assert client.get("/api/v1/me/").status_code in (401, 403)
    client.logout()
    assert not client.login(username="bjensen", password="pw-long-enough-1")


def test_the_list_costs_the_same_queries_at_two_sizes(scim, django_assert_num_queries):
    def count_for_list():
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            assert scim.get("Users").status_code == 200
        return len(captured)

    scim.post("Users", user_payload(username="one"))
    small = count_for_list()
    for name in ("two", "three", "four", "five"):
        scim.post("Users", user_payload(username=name))
    assert count_for_list() == small

"""The discovery documents: ServiceProviderConfig, Schemas, ResourceTypes."""

import pytest

pytestmark = pytest.mark.django_db


def test_service_provider_config_announces_patch_and_filter(scim):
    body = scim.get("ServiceProviderConfig").data
    assert body["patch"]["supported"] is True
    assert body["filter"]["supported"] is True
    assert body["bulk"]["supported"] is False
    assert body["authenticationSchemes"][0]["type"] == "oauthbearertoken"


def test_resource_types_and_schemas(scim):
    types = scim.get("ResourceTypes").data
    assert {entry["name"] for entry in types["Resources"]} == {"User", "Group"}
    assert scim.get("ResourceTypes/User").data["endpoint"] == "/Users"
    schemas = scim.get("Schemas").data
    ids = {entry["id"] for entry in schemas["Resources"]}
    assert "urn:ietf:params:scim:schemas:core:2.0:User" in ids
    assert scim.get("Schemas/urn:ietf:params:scim:schemas:core:2.0:Group").status_code == 200
    assert scim.get("Schemas/nope").status_code == 404

"""SCIM fixtures: a token and a client that sends it."""

import json

import pytest
from django.test import Client

from core.history import system_user
from directory import services

SCIM = "application/scim+json"


class ScimClient:
    """Django's test client speaking SCIM with a bearer token."""

    def __init__(self, raw):
        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")

    def _send(self, method, path, payload=None):
        body = json.dumps(payload) if payload is not None else ""
        response = getattr(self.client, method)(f"/scim/v2/{path}", body, content_type=SCIM)
        response.data = json.loads(response.content) if response.content else None
        return response

    def get(self, path, **params):
        response = self.client.get(f"/scim/v2/{path}", params)
        response.data = json.loads(response.content) if response.content else None
        return response

    def post(self, path, payload):
        return self._send("post", path, payload)

    def put(self, path, payload):
        return self._send("put", path, payload)

    def patch(self, path, payload):
        return self._send("patch", path, payload)

    def delete(self, path):
        return self._send("delete", path)


@pytest.fixture
def scim_token(db):
    token, raw = services.token_create(name="okta", actor=system_user())
    token.raw = raw
    return token


@pytest.fixture
def scim(scim_token):
    return ScimClient(scim_token.raw)


USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


def user_payload(username="bjensen", **extra):
    return {
        "schemas": [USER_SCHEMA],
        "userName": username,
        "externalId": f"ext-{username}",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "emails": [{"value": f"{username}@example.org", "primary": True, "type": "work"}],
        "active": True,
        **extra,
    }


def patch_payload(*operations):
    return {"schemas": [PATCH_SCHEMA], "Operations": list(operations)}

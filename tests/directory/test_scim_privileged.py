"""Accounts with an administrative role are the administrators': SCIM reads and deactivates them only."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from core.roles import COMPLIANCE
from tests.directory.conftest import patch_payload, user_payload

pytestmark = pytest.mark.django_db
User = get_user_model()
MESSAGE = "This account has an administrative role; change it in the admin."


def _compliance_user():
    user = User.objects.create_user("compliance", email="compliance@example.org", first_name="Ann")
    user.groups.add(Group.objects.get(name=COMPLIANCE))
    return user


def _admin_user():
    return User.objects.create_user("boss", email="boss@example.org", is_staff=True)


def _refused(response):
    assert response.status_code == 403, response.data
    assert response.data["detail"] == MESSAGE
    assert "scimType" not in response.data


@pytest.mark.parametrize("make", [_compliance_user, _admin_user])
@pytest.mark.parametrize(
    "operation",
    [
        {"op": "replace", "path": "emails", "value": [{"value": "evil@attacker.example.com"}]},
        {"op": "replace", "path": "userName", "value": "renamed"},
        {"op": "replace", "path": "name.givenName", "value": "Eve"},
        {"op": "replace", "path": "displayName", "value": "Eve"},
        {"op": "replace", "path": "externalId", "value": "ext-evil"},
    ],
)
def test_patch_of_a_privileged_account_is_refused(scim, make, operation):
    user = make()
    _refused(scim.patch(f"Users/{user.pk}", patch_payload(operation)))
    user.refresh_from_db()
    assert user.email.endswith("@example.org")
    assert user.username in ("compliance", "boss")
    assert not hasattr(user, "provisioned")


def test_put_of_a_privileged_account_is_refused(scim):
    user = _compliance_user()
    payload = user_payload(
        "compliance", emails=[{"value": "evil@attacker.example.com", "primary": True}]
    )
    _refused(scim.put(f"Users/{user.pk}", payload))
    assert User.objects.get(pk=user.pk).email == "compliance@example.org"


def test_a_privileged_account_may_be_deactivated_but_not_reactivated(scim):
    user = _compliance_user()
    off = scim.patch(
        f"Users/{user.pk}", patch_payload({"op": "replace", "path": "active", "value": False})
    )
    assert off.status_code == 200, off.data
    assert off.data["active"] is False
    _refused(
        scim.patch(
            f"Users/{user.pk}", patch_payload({"op": "replace", "path": "active", "value": True})
        )
    )
    assert not User.objects.get(pk=user.pk).is_active


def test_a_privileged_account_may_be_deleted(scim):
    user = _admin_user()
    assert scim.delete(f"Users/{user.pk}").status_code == 204
    assert not User.objects.get(pk=user.pk).is_active
    assert scim.get(f"Users/{user.pk}").status_code == 404


def test_post_with_the_username_of_a_privileged_account_is_a_conflict(scim):
    _compliance_user()
    response = scim.post("Users", user_payload("Compliance"))
    assert response.status_code == 409
    assert User.objects.get(username="compliance").email == "compliance@example.org"


def test_a_plain_account_is_still_changed(scim):
    user = User.objects.create_user("plain", email="plain@example.org")
    operation = {"op": "replace", "path": "emails", "value": [{"value": "new@example.org"}]}
    assert scim.patch(f"Users/{user.pk}", patch_payload(operation)).status_code == 200
    assert User.objects.get(pk=user.pk).email == "new@example.org"

"""GET /api/v1/users/?search=: people by name, username or email, for those who pick people."""

import pytest

from tests import factories

pytestmark = pytest.mark.django_db

URL = "/api/v1/users/"


def test_a_coordinator_finds_people_by_name_username_or_email(api, coordinator):
    dana = factories.staff(username="dscully", first_name="Dana", last_name="Scully")
    factories.staff(username="fmulder", first_name="Fox", last_name="Mulder")
    client = api(coordinator)
    for term in ("scully", "Dana", "dscully@example", "dana scully"):
        body = client.get(URL, {"search": term}).json()
        assert [row["id"] for row in body["results"]] == [dana.pk], term
    (row,) = client.get(URL, {"search": "dscully"}).json()["results"]
    assert row == {
        "id": dana.pk,
        "username": "dscully",
        "full_name": "Dana Scully",
        "email": "dscully@example.org",
    }


def test_staff_see_only_themselves(api, staff_user):
    factories.staff(username="someone")
    body = api(staff_user).get(URL).json()
    assert [row["id"] for row in body["results"]] == [staff_user.pk]
    assert api(staff_user).get(URL, {"search": "someone"}).json()["count"] == 0


def test_the_intake_and_compliance_see_everyone(api, compliance_user):
    intake = factories.UserFactory(groups=["Incident intake", "Staff"])
    factories.staff(username="someone")
    for reader in (intake, compliance_user):
        names = {row["username"] for row in api(reader).get(URL).json()["results"]}
        assert "someone" in names


def test_anonymous_clients_are_refused_and_nothing_is_written(api, coordinator):
    assert api().get(URL).status_code in (401, 403)
    assert api(coordinator).post(URL, {"username": "x"}, format="json").status_code == 405
    assert api(coordinator).delete(URL).status_code == 405


@pytest.mark.parametrize("size", [3, 30])
def test_the_list_costs_the_same_at_any_size(api, coordinator, size, django_assert_num_queries):
    for i in range(size):
        factories.staff(username=f"person{i}")
    client = api(coordinator)
    with django_assert_num_queries(4):  # the permission checks (user, groups), count, page
        response = client.get(URL, {"search": "person"})
    assert response.json()["count"] == size

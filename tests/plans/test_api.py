"""The plans API: permissions, bad input, conflicts, ETags, diffs, history, lists at fixed cost."""

import pytest

from plans import services
from tests import factories
from tests.plans.factories import draft_of, fill, make_plan, publish, published_plan
from tests.signing import signer_proof

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(coordinator):
    return draft_of(make_plan(author=coordinator))


# Plans


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "code"),
        ({"code": "has space", "title": "x"}, "code"),
        ({"code": "OK", "title": ""}, "title"),
        ({"code": "OK", "title": "x", "audience": ["No such group"]}, "audience"),
        ({"code": "OK", "title": "x", "owner": 999999}, "owner"),
        ({"code": "OK", "title": "x", "review_interval_months": 0}, "review_interval_months"),
        ({"code": "OK", "title": "x", "acknowledgement_days": -1}, "acknowledgement_days"),
        ({"code": "OK", "title": "x", "acknowledgement_days": "soon"}, "acknowledgement_days"),
    ],
)
def test_creating_a_plan_with_bad_input_is_a_400_with_field_errors(
    api, coordinator, payload, field
):
    response = api(coordinator).post("/api/v1/plans/", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_duplicate_plan_code_is_a_400(api, coordinator):
    make_plan(author=coordinator, code="DUP")
    response = api(coordinator).post("/api/v1/plans/", {"code": "DUP", "title": "again"})
    assert response.status_code == 400 and "code" in response.json()


def test_only_coordinators_create_plans(api, staff_user, approver, compliance_user):
    for user in (staff_user, approver, compliance_user):
        assert api(user).post("/api/v1/plans/", {"code": "X", "title": "X"}).status_code == 403
    assert api().post("/api/v1/plans/", {"code": "X", "title": "X"}).status_code in (401, 403)


def test_plan_fields_and_history_user(api, coordinator):
    response = api(coordinator).post(
        "/api/v1/plans/", {"code": "IRP", "title": "Plan", "audience": ["Staff"]}
    )
    body = response.json()
    assert set(body) >= {
        "id",
        "code",
        "title",
        "purpose",
        "scope",
        "owner",
        "audience",
        "review_interval_months",
        "acknowledgement_days",
        "current_version",
        "review_due",
    }
    assert body["owner"] == coordinator.pk and body["review_interval_months"] == 12
    assert body["acknowledgement_days"] == 14 and body["review_due"] is False
    history = api(coordinator).get(f"/api/v1/plans/{body['id']}/history/").json()["results"]
    assert history[-1]["history_user"] == coordinator.pk


def test_delete_is_405_everywhere(api, coordinator, approver):
    plan, version, *_ = published_plan(approver=approver)
    ack, _ = services.acknowledgement_create(
        version=version,
        actor=plan.owner,
        proof=signer_proof(plan.owner),
        full_name=plan.owner.get_full_name(),
        content_hash=version.content_hash,
    )
    client = api(factories.UserFactory(username="root", is_superuser=True))
    assert client.delete(f"/api/v1/plans/{plan.pk}/").status_code == 405
    assert client.delete(f"/api/v1/plan-versions/{version.pk}/").status_code == 405
    assert client.delete(f"/api/v1/acknowledgements/{ack.pk}/").status_code == 405
    assert client.patch(f"/api/v1/acknowledgements/{ack.pk}/", {}).status_code == 405
    assert client.put(f"/api/v1/acknowledgements/{ack.pk}/", {}).status_code == 405


def test_patch_plan_with_stale_if_match_is_412(api, coordinator):
    plan = make_plan(author=coordinator)
    client = api(coordinator)
    etag = client.get(f"/api/v1/plans/{plan.pk}/")["ETag"]
    assert (
        client.patch(f"/api/v1/plans/{plan.pk}/", {"title": "New"}, HTTP_IF_MATCH=etag).status_code
        == 200
    )
    stale = client.patch(f"/api/v1/plans/{plan.pk}/", {"title": "Newer"}, HTTP_IF_MATCH=etag)
    assert stale.status_code == 412
    plan.refresh_from_db()
    assert plan.title == "New"


# Versions and sections


def test_staff_see_published_versions_only(api, staff_user, coordinator, approver):
    plan, v1, author, _ = published_plan(approver=approver)
    v2 = services.version_create_draft(plan=plan, actor=author)
    client = api(staff_user)
    assert client.get(f"/api/v1/plan-versions/{v1.pk}/").status_code == 200
    assert client.get(f"/api/v1/plan-versions/{v2.pk}/").status_code == 404
    listed = client.get(f"/api/v1/plans/{plan.pk}/versions/").json()["results"]
    assert [v["id"] for v in listed] == [v1.pk]
    assert client.get(f"/api/v1/plans/{plan.pk}/").json()["latest_version"]["id"] == v1.pk
    full = api(coordinator).get(f"/api/v1/plans/{plan.pk}/versions/").json()["results"]
    assert [v["id"] for v in full] == [v2.pk, v1.pk]


def test_version_detail_has_the_contract_fields(api, coordinator, draft):
    body = api(coordinator).get(f"/api/v1/plan-versions/{draft.pk}/").json()
    assert set(body) >= {
        "id",
        "plan",
        "number",
        "status",
        "author",
        "change_summary",
        "content_hash",
        "published_at",
        "next_review_due",
        "sections",
        "open_change_requests",
    }
    assert body["content_hash"] is None
    assert set(body["sections"][0]) >= {"key", "heading", "body"}


def test_patch_section_edits_a_draft_and_refuses_after(api, coordinator, draft):
    client = api(coordinator)
    url = f"/api/v1/plan-versions/{draft.pk}/sections/communication-plan/"
    response = client.patch(url, {"heading": "Comms", "body": "Call **everyone**"})
    assert response.status_code == 200 and response.json()["heading"] == "Comms"
    assert client.patch(url, {}).status_code == 400
    assert client.patch(url, {"heading": ""}).status_code == 400
    assert client.patch(url, {"heading": "x" * 201}).status_code == 400
    missing = f"/api/v1/plan-versions/{draft.pk}/sections/no-such-section/"
    assert client.patch(missing, {"body": "x"}).status_code == 404
    client.post(f"/api/v1/plan-versions/{draft.pk}/submit/", {"password": "pw"})
    frozen = client.patch(url, {"body": "too late"})
    assert frozen.status_code == 409
    assert (
        client.patch(f"/api/v1/plan-versions/{draft.pk}/", {"change_summary": "x"}).status_code
        == 409
    )


def test_section_patch_with_stale_if_match_is_412(api, coordinator, draft):
    client = api(coordinator)
    url = f"/api/v1/plan-versions/{draft.pk}/sections/communication-plan/"
    etag = client.get(url)["ETag"]
    assert client.patch(url, {"body": "one"}, HTTP_IF_MATCH=etag).status_code == 200
    assert client.patch(url, {"body": "two"}, HTTP_IF_MATCH=etag).status_code == 412
    assert draft.sections.get(key="communication-plan").body == "one"


def test_version_patch_with_if_match(api, coordinator, draft):
    client = api(coordinator)
    url = f"/api/v1/plan-versions/{draft.pk}/"
    etag = client.get(url)["ETag"]
    assert client.patch(url, {"change_summary": "a"}, HTTP_IF_MATCH=etag).status_code == 200
    assert client.patch(url, {"change_summary": "b"}, HTTP_IF_MATCH=etag).status_code == 412
    assert client.patch(url, {"change_summary": None}, format="json").status_code == 400


def test_staff_cannot_edit_sections_or_run_the_workflow(api, staff_user, approver):
    plan, v1, author, _ = published_plan(approver=approver)
    v2 = services.version_create_draft(plan=plan, actor=author)
    client = api(staff_user)
    # drafts are invisible to staff: 404 rather than 403
    assert (
        client.patch(
            f"/api/v1/plan-versions/{v2.pk}/sections/acknowledgement/", {"body": "x"}
        ).status_code
        == 404
    )
    assert (
        client.post(f"/api/v1/plan-versions/{v2.pk}/submit/", {"password": "pw"}).status_code == 404
    )
    assert client.post(f"/api/v1/plans/{plan.pk}/versions/").status_code == 403
    assert (
        client.post(f"/api/v1/plan-versions/{v1.pk}/publish/", {"password": "pw"}).status_code
        == 403
    )


def test_workflow_endpoints_answer_409_for_steps_not_allowed(api, coordinator, approver, draft):
    client = api(approver)
    assert (
        client.post(f"/api/v1/plan-versions/{draft.pk}/approve/", {"password": "pw"}).status_code
        == 409
    )
    assert (
        client.post(f"/api/v1/plan-versions/{draft.pk}/publish/", {"password": "pw"}).status_code
        == 409
    )
    assert (
        client.post(
            f"/api/v1/plan-versions/{draft.pk}/request-changes/", {"password": "pw"}
        ).status_code
        == 409
    )
    api(coordinator).post(f"/api/v1/plan-versions/{draft.pk}/submit/", {"password": "pw"})
    assert (
        api(coordinator)
        .post(f"/api/v1/plan-versions/{draft.pk}/submit/", {"password": "pw"})
        .status_code
        == 409
    )
    assert (
        client.post(f"/api/v1/plan-versions/{draft.pk}/publish/", {"password": "pw"}).status_code
        == 409
    )
    no_reason = client.post(
        f"/api/v1/plan-versions/{draft.pk}/request-changes/", {"password": "pw"}
    )
    assert no_reason.status_code == 400 and "comment" in no_reason.json()
    sent_back = client.post(
        f"/api/v1/plan-versions/{draft.pk}/request-changes/",
        {"password": "pw", "comment": "Section 3 is thin"},
    )
    assert sent_back.status_code == 200 and sent_back.json()["status"] == "draft"
    assert sent_back.json()["reviews"][-1]["comment"] == "Section 3 is thin"
    assert client.post(
        f"/api/v1/plan-versions/{draft.pk}/submit/",
        {"password": "pw", "comment": ["not", "text"]},
        format="json",
    ).status_code in (400, 403)


def test_approving_without_the_role_is_403(api, coordinator, draft):
    api(coordinator).post(f"/api/v1/plan-versions/{draft.pk}/submit/", {"password": "pw"})
    other = factories.coordinator(username="c2")
    assert (
        api(other)
        .post(f"/api/v1/plan-versions/{draft.pk}/approve/", {"password": "pw"})
        .status_code
        == 403
    )
    assert (
        api(factories.compliance(username="cx"))
        .post(f"/api/v1/plan-versions/{draft.pk}/approve/", {"password": "pw"})
        .status_code
        == 403
    )


def test_new_draft_while_one_exists_is_409(api, coordinator, draft):
    assert api(coordinator).post(f"/api/v1/plans/{draft.plan_id}/versions/").status_code == 409
    assert api(coordinator).post("/api/v1/plans/999999/versions/").status_code == 404


def test_unknown_ids_are_404(api, coordinator):
    client = api(coordinator)
    assert client.get("/api/v1/plans/999999/").status_code == 404
    assert client.get("/api/v1/plan-versions/999999/").status_code == 404
    assert (
        client.post("/api/v1/plan-versions/999999/submit/", {"password": "pw"}).status_code == 404
    )
    assert client.get("/api/v1/plans/abc/").status_code == 404


# Acknowledging over the API


def test_acknowledge_bad_input(api, approver):
    plan, version, *_ = published_plan(approver=approver)
    member = factories.staff(username="m", first_name="Mia", last_name="Member")
    client = api(member)
    url = f"/api/v1/plan-versions/{version.pk}/acknowledge/"
    assert client.post(url, {}).status_code == 400
    assert (
        client.post(
            url, {"password": "pw", "full_name": "Mia Member", "content_hash": "short"}
        ).status_code
        == 400
    )
    wrong_name = client.post(
        url, {"password": "pw", "full_name": "Someone", "content_hash": version.content_hash}
    )
    assert wrong_name.status_code == 400 and "full_name" in wrong_name.json()
    mismatch = client.post(
        url, {"password": "pw", "full_name": "Mia Member", "content_hash": "a" * 64}
    )
    assert mismatch.status_code == 409 and mismatch.json()["code"] == "fingerprint_mismatch"


def test_acknowledge_outside_audience_is_403_and_unpublished_is_400(api, coordinator, approver):
    plan, version, author, _ = published_plan(approver=approver)
    outsider = factories.UserFactory(
        username="o", groups=["Contractors"], first_name="O", last_name="P"
    )
    from django.contrib.auth.models import Permission

    outsider.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_planversion", "add_acknowledgement"])
    )
    url = f"/api/v1/plan-versions/{version.pk}/acknowledge/"
    body = {"password": "pw", "full_name": "O P", "content_hash": version.content_hash}
    assert api(outsider).post(url, body).status_code == 403
    v2 = fill(services.version_create_draft(plan=plan, actor=author), author, "two")
    publish(v2, author=author, approver=approver)
    member = factories.staff(username="m2", first_name="M", last_name="Two")
    old = api(member).post(
        url, {"password": "pw", "full_name": "M Two", "content_hash": version.content_hash}
    )
    assert old.status_code == 400


def test_pending_and_own_acknowledgements(api, approver, compliance_user):
    plan, version, author, _ = published_plan(approver=approver)
    other_plan, other_version, *_ = published_plan(code="OTHER", approver=approver)
    member = factories.staff(username="m", first_name="Mia", last_name="Member")
    client = api(member)
    pending = client.get("/api/v1/me/pending-acknowledgements/").json()["results"]
    assert {p["id"] for p in pending} == {version.pk, other_version.pk}
    client.post(
        f"/api/v1/plan-versions/{version.pk}/acknowledge/",
        {"password": "pw", "full_name": "Mia Member", "content_hash": version.content_hash},
    )
    services.acknowledgement_create(
        version=version,
        actor=author,
        proof=signer_proof(author),
        full_name=author.get_full_name(),
        content_hash=version.content_hash,
    )
    pending = client.get("/api/v1/me/pending-acknowledgements/").json()["results"]
    assert [p["id"] for p in pending] == [other_version.pk]
    own = client.get("/api/v1/acknowledgements/").json()
    assert own["count"] == 1 and own["results"][0]["user"] == member.pk
    everyone = api(compliance_user).get("/api/v1/acknowledgements/").json()
    assert everyone["count"] == 2
    filtered = api(compliance_user).get(f"/api/v1/acknowledgements/?user={author.pk}").json()
    assert [a["user"] for a in filtered["results"]] == [author.pk]
    by_plan = api(compliance_user).get(f"/api/v1/acknowledgements/?plan={other_plan.pk}").json()
    assert by_plan["count"] == 0
    assert api(compliance_user).get("/api/v1/acknowledgements/?version=abc").status_code == 400
    assert api(compliance_user).get("/api/v1/acknowledgements/?user=999999").status_code == 400


def test_acknowledgement_history_is_for_compliance(api, approver, compliance_user, staff_user):
    plan, version, author, _ = published_plan(approver=approver)
    ack, _ = services.acknowledgement_create(
        version=version,
        actor=author,
        proof=signer_proof(author),
        full_name=author.get_full_name(),
        content_hash=version.content_hash,
    )
    history = api(compliance_user).get(f"/api/v1/acknowledgements/{ack.pk}/history/")
    assert history.status_code == 200
    entry = history.json()["results"][0]
    assert entry["history_type"] == "created" and entry["history_user"] == author.pk
    assert api(staff_user).get(f"/api/v1/acknowledgements/{ack.pk}/history/").status_code in (
        403,
        404,
    )
    version_history = api(compliance_user).get(f"/api/v1/plan-versions/{version.pk}/history/")
    reasons = [e["history_change_reason"] for e in version_history.json()["results"]]
    assert "Published" in reasons and "Submitted for review" in reasons


# Diff


def test_diff_between_versions(api, coordinator, approver):
    plan, v1, author, _ = published_plan(approver=approver)
    v2 = services.version_create_draft(plan=plan, actor=author)
    services.section_update(
        section=v2.sections.get(key="incident-reporting"),
        actor=author,
        body="Do the <b>right</b> thing quickly (incident-reporting)",
    )
    services.version_update(version=v2, actor=author, change_summary="Faster reporting")
    response = api(coordinator).get(f"/api/v1/plan-versions/{v2.pk}/diff/?against={v1.pk}")
    assert response.status_code == 200
    body = response.json()
    assert body["change_summary"] == "Faster reporting"
    changed = [s for s in body["sections"] if s["state"] != "unchanged"]
    assert [s["key"] for s in changed] == ["incident-reporting"]
    ops = changed[0]["body_changes"]
    assert {"op": "replace", "old": "thing", "new": "<b>right</b> thing quickly"} in ops or any(
        o["op"] in ("insert", "replace") and "quickly" in o["new"] for o in ops
    )


@pytest.mark.parametrize("against", ["", "?against=", "?against=abc", "?against=999999"])
def test_diff_with_missing_or_unknown_other_is_400(api, coordinator, draft, against):
    response = api(coordinator).get(f"/api/v1/plan-versions/{draft.pk}/diff/{against}")
    assert response.status_code == 400 and "against" in response.json()


def test_diff_against_another_plans_version_is_400(api, coordinator, draft):
    other = draft_of(make_plan(author=coordinator, code="OTHER"))
    response = api(coordinator).get(f"/api/v1/plan-versions/{draft.pk}/diff/?against={other.pk}")
    assert response.status_code == 400


# Lists at a fixed cost


def _plans(n, author):
    for i in range(n):
        make_plan(author=author, code=f"L{n}-{i}")


@pytest.mark.parametrize("size", [5, 50])
def test_plan_list_costs_the_same_at_any_size(api, coordinator, size, django_assert_num_queries):
    _plans(size, coordinator)
    client = api(coordinator)
    # count, plans, audience prefetch, versions prefetch (permissions already cached)
    with django_assert_num_queries(4):
        response = client.get("/api/v1/plans/?page_size=100")
    assert response.json()["count"] == size


@pytest.mark.parametrize("size", [5, 50])
def test_version_list_costs_the_same_at_any_size(api, coordinator, size, django_assert_num_queries):
    _plans(size, coordinator)
    client = api(coordinator)
    # count and page (permissions already cached)
    with django_assert_num_queries(2):
        response = client.get("/api/v1/plan-versions/?page_size=100")
    assert response.json()["count"] == size


@pytest.mark.parametrize("size", [5, 50])
def test_acknowledgement_list_costs_the_same_at_any_size(
    api, compliance_user, size, django_assert_num_queries
):
    plan, version, *_ = published_plan(code=f"K{size}")
    for i in range(size):
        person = factories.staff(username=f"k{size}-{i}", first_name="K", last_name=str(i))
        services.acknowledgement_create(
            version=version,
            actor=person,
            proof=signer_proof(person),
            full_name=person.get_full_name(),
            content_hash=version.content_hash,
        )
    with django_assert_num_queries(4):
        response = api(compliance_user).get("/api/v1/acknowledgements/?page_size=100")
    assert response.json()["count"] == size


@pytest.mark.parametrize("size", [5, 50])
def test_pending_list_costs_the_same_at_any_size(api, size, django_assert_num_queries):
    member = factories.staff(username="pm", first_name="P", last_name="M")
    approver = factories.approver(username="pa")
    for i in range(size):
        published_plan(code=f"PP{size}-{i}", approver=approver)
    with django_assert_num_queries(2):
        response = api(member).get("/api/v1/me/pending-acknowledgements/?page_size=100")
    assert response.json()["count"] == size


def test_open_change_requests_are_listed_on_the_draft_only(api, coordinator, approver):
    plan, v1, author, _ = published_plan(approver=approver)
    services.change_request_create(
        plan=plan, actor=coordinator, summary="Rota", source="INC-1 review", source_url="/x/"
    )
    v2 = services.version_create_draft(plan=plan, actor=author)
    draft_body = api(coordinator).get(f"/api/v1/plan-versions/{v2.pk}/").json()
    assert [(r["summary"], r["source"]) for r in draft_body["open_change_requests"]] == [
        ("Rota", "INC-1 review")
    ]
    assert (
        api(coordinator).get(f"/api/v1/plan-versions/{v1.pk}/").json()["open_change_requests"] == []
    )


def test_plan_audience_changes_are_in_the_history(api, coordinator):
    plan = make_plan(author=coordinator, audience=())
    client = api(coordinator)
    assert client.patch(f"/api/v1/plans/{plan.pk}/", {"audience": ["Staff"]}).status_code == 200
    assert client.patch(f"/api/v1/plans/{plan.pk}/", {"audience": "Staff"}).status_code == 400
    record = plan.history.first()
    assert [m.group.name for m in record.audience.all()] == ["Staff"]
    assert record.history_user == coordinator


def test_malformed_json_is_a_400(api, coordinator, draft):
    response = api(coordinator).generic(
        "PATCH",
        f"/api/v1/plan-versions/{draft.pk}/sections/acknowledgement/",
        "{not json",
        content_type="application/json",
    )
    assert response.status_code == 400


@pytest.mark.parametrize("size", [5, 50])
def test_change_requests_are_listed_read_only_at_a_fixed_cost(
    api, coordinator, compliance_user, size, django_assert_num_queries
):
    plan = make_plan(author=coordinator, code=f"CR{size}")
    for i in range(size):
        services.change_request_create(
            plan=plan, actor=coordinator, summary=f"r{i}", source="drill"
        )
    client = api(compliance_user)
    client.get("/api/v1/plan-change-requests/")  # loads the user's permissions once
    # the plan filter's lookup, count and page
    with django_assert_num_queries(3):
        response = client.get(f"/api/v1/plan-change-requests/?plan={plan.pk}&page_size=100")
    assert response.json()["count"] == size
    first = response.json()["results"][0]["id"]
    assert client.delete(f"/api/v1/plan-change-requests/{first}/").status_code == 405
    assert client.patch(f"/api/v1/plan-change-requests/{first}/", {}).status_code == 405
    assert client.get(f"/api/v1/plan-change-requests/{first}/history/").status_code == 200
    assert (
        api(factories.staff(username="s")).get("/api/v1/plan-change-requests/").status_code == 403
    )


def test_delete_is_405_for_every_role(api, approver, coordinator, compliance_user, staff_user):
    plan, version, *_ = published_plan(approver=approver)
    ack, _ = services.acknowledgement_create(
        version=version,
        actor=plan.owner,
        proof=signer_proof(plan.owner),
        full_name=plan.owner.get_full_name(),
        content_hash=version.content_hash,
    )
    request = services.change_request_create(plan=plan, actor=coordinator, summary="s")
    urls = [
        f"/api/v1/plans/{plan.pk}/",
        f"/api/v1/plan-versions/{version.pk}/",
        f"/api/v1/acknowledgements/{ack.pk}/",
        f"/api/v1/plan-change-requests/{request.pk}/",
        f"/api/v1/plan-versions/{version.pk}/sections/acknowledgement/",
    ]
    for user in (coordinator, compliance_user, staff_user, approver):
        for url in urls:
            assert api(user).delete(url).status_code == 405, (user, url)
    assert api().delete(urls[0]).status_code in (401, 403)

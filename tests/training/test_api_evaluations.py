"""GET /api/v1/training/evaluations/: exercise evaluations, for coordinators and compliance."""

import datetime

import pytest

from tests.training.factories import actor, make_course, make_session
from training import services
from training.models import Course

pytestmark = pytest.mark.django_db

URL = "/api/v1/training/evaluations/"


def evaluated(n):
    course = make_course(title="Tabletop", kind=Course.Kind.TABLETOP)
    made = []
    for i in range(n):
        session = make_session(course, objectives="Detect\nEscalate", title=f"Run {i}")
        evaluation = services.evaluation_save(
            session=session,
            actor=actor(),
            time_to_detect=datetime.timedelta(minutes=12),
            findings=f"Finding {i}",
        )
        services.objective_results_from_session(evaluation=evaluation, actor=actor())
        made.append(evaluation)
    return made


def test_a_coordinator_reads_evaluations_and_their_objectives(api, coordinator):
    (evaluation,) = evaluated(1)
    response = api(coordinator).get(URL)
    assert response.status_code == 200
    (row,) = response.json()["results"]
    assert row["id"] == evaluation.pk and row["findings"] == "Finding 0"
    assert row["time_to_detect"] == "00:12:00"
    assert [o["objective"] for o in row["objective_results"]] == ["Detect", "Escalate"]
    detail = api(coordinator).get(f"{URL}{evaluation.pk}/")
    assert detail.status_code == 200 and detail.json() == row
    assert "ETag" in detail


def test_staff_may_not_read_evaluations_and_nobody_writes_them(api, staff_user, coordinator):
    (evaluation,) = evaluated(1)
    assert api(staff_user).get(URL).status_code == 403
    assert api(coordinator).post(URL, {}, format="json").status_code == 405
    assert api(coordinator).patch(f"{URL}{evaluation.pk}/", {}, format="json").status_code == 405
    assert api(coordinator).delete(f"{URL}{evaluation.pk}/").status_code == 405


def test_evaluations_filter_by_course(api, coordinator):
    evaluated(2)
    other = make_course(title="Drill", kind=Course.Kind.DRILL)
    assert api(coordinator).get(URL, {"course": other.pk}).json()["count"] == 0
    assert api(coordinator).get(URL, {"course": "x"}).status_code == 400


@pytest.mark.parametrize("size", [2, 12])
def test_the_evaluation_list_costs_the_same_at_any_size(
    api, coordinator, size, django_assert_num_queries
):
    evaluated(size)
    client = api(coordinator)
    # count, page (with session and course), objectives, improvements; the permission check
    with django_assert_num_queries(6):
        response = client.get(URL)
    assert response.json()["count"] == size

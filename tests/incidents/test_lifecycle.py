"""The incident lifecycle: every allowed and forbidden step, stamps, timeline, history reasons, closing rules."""

import itertools

import pytest

from core.errors import InvalidInput, TransitionNotAllowed
from core.workflow import all_pairs, all_steps
from incidents import services
from incidents.models import Action, Incident, PostIncidentReview, Status, TimelineEntry
from tests.incidents import factories as f

pytestmark = pytest.mark.django_db

PATH_TO = {
    Status.REPORTED: [],
    Status.TRIAGED: ["triaged"],
    Status.INVESTIGATING: ["triaged", "investigating"],
    Status.CONTAINED: ["triaged", "investigating", "contained"],
    Status.ERADICATED: ["triaged", "investigating", "contained", "eradicated"],
    Status.RECOVERED: ["triaged", "investigating", "contained", "eradicated", "recovered"],
    Status.CLOSED: ["triaged", "investigating", "contained", "eradicated", "recovered", "closed"],
    Status.CANCELLED: ["cancelled"],
}


def incident_in(status, actor):
    incident = f.incident(impact=4, urgency=4)  # P4: closing needs no review
    return f.walk(incident, actor, *PATH_TO[status])


@pytest.mark.parametrize(("source", "target"), list(itertools.product(Status, Status)))
def test_every_pair_is_allowed_exactly_when_the_table_says(coordinator, source, target):
    incident = incident_in(source, coordinator)
    if target in Incident.pipeline[source]:
        moved = services.incident_transition(incident=incident, actor=coordinator, status=target, reason="because")
        assert moved.status == target
    else:
        with pytest.raises(TransitionNotAllowed):
            services.incident_transition(incident=incident, actor=coordinator, status=target, reason="because")
        assert Incident.objects.get(pk=incident.pk).status == source


def test_each_step_stamps_the_phase_writes_the_timeline_and_records_who_and_why(coordinator):
    incident = f.incident()
    moved = services.incident_transition(incident=incident, actor=coordinator, status="triaged", reason="Looks real")
    assert moved.acknowledged_at is not None
    entry = moved.timeline.filter(kind=TimelineEntry.Kind.STATUS_CHANGE).get()
    assert "Reported → Triaged" in entry.text and entry.author == coordinator
    record = moved.history.first()
    assert record.history_user == coordinator
    assert record.history_change_reason == "Reported → Triaged: Looks real"


@pytest.mark.parametrize(("impact", "urgency"), [(1, 1), (2, 2)])
def test_p1_and_p2_cannot_close_without_a_completed_review(coordinator, impact, urgency):
    incident = f.walk(f.incident(impact=impact, urgency=urgency), coordinator, *PATH_TO[Status.RECOVERED])
    assert incident.priority in ("P1", "P2")
    with pytest.raises(TransitionNotAllowed, match="post-incident review"):
        services.incident_transition(incident=incident, actor=coordinator, status="closed")
    services.review_save(incident=incident, actor=coordinator, summary="s", root_cause="r", lessons_learned="l")
    with pytest.raises(TransitionNotAllowed):  # a draft review is not enough
        services.incident_transition(incident=incident, actor=coordinator, status="closed")
    services.review_complete(incident=incident, actor=coordinator)
    assert services.incident_transition(incident=incident, actor=coordinator, status="closed").status == "closed"


def test_p3_closes_without_a_review(coordinator):
    incident = f.walk(f.incident(impact=3, urgency=3), coordinator, *PATH_TO[Status.CLOSED])
    assert incident.status == "closed" and incident.closed_at is not None


def test_reopen_needs_a_reason_and_counts(coordinator):
    incident = incident_in(Status.CLOSED, coordinator)
    with pytest.raises(InvalidInput):
        services.incident_transition(incident=incident, actor=coordinator, status="investigating", reason="  ")
    reopened = services.incident_transition(
        incident=incident, actor=coordinator, status="investigating", reason="It came back"
    )
    assert reopened.reopened_count == 1 and reopened.closed_at is None
    assert reopened.history.first().history_change_reason == "Closed → Investigating: It came back"


def test_cancel_needs_a_reason(coordinator):
    incident = f.incident()
    with pytest.raises(InvalidInput):
        services.incident_transition(incident=incident, actor=coordinator, status="cancelled")


def test_unknown_status_is_invalid_input(coordinator):
    with pytest.raises(InvalidInput):
        services.incident_transition(incident=f.incident(), actor=coordinator, status="done")


@pytest.mark.parametrize(("source", "target"), all_pairs(Action))
def test_an_action_moves_between_any_two_statuses_and_done_stamps_completion(coordinator, source, target):
    assert target in Action.pipeline[source]  # the table allows every step
    action = services.action_create(
        incident=f.incident(), actor=coordinator, kind="containment", description="Isolate the host"
    )
    if source != Action.ActionStatus.OPEN:
        action = services.action_update(action=action, actor=coordinator, status=source)
    moved = services.action_update(action=action, actor=coordinator, status=target)
    assert Action.objects.get(pk=moved.pk).status == target
    assert (moved.completed_at is not None) == (target == Action.ActionStatus.DONE)


def test_a_review_only_goes_from_draft_to_completed_and_a_completed_one_is_final(coordinator):
    assert all_steps(PostIncidentReview) == {
        (PostIncidentReview.ReviewStatus.DRAFT, PostIncidentReview.ReviewStatus.COMPLETED)
    }
    incident = f.incident()
    f.completed_review(incident, coordinator)
    with pytest.raises(TransitionNotAllowed):
        services.review_save(incident=incident, actor=coordinator, summary="Rewritten")

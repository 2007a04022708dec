"""Services: the transition tables walked pair by pair, history with user and reason, evaluations."""

import datetime

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import Conflict, InvalidInput, NotPermitted, TransitionNotAllowed
from tests import factories
from tests.plans.factories import make_plan
from tests.training.factories import actor, make_course, make_session, people
from training import services
from training.models import Record, Session

pytestmark = pytest.mark.django_db

R = Record.Status
S = Session.Status


def record_in(status, session, user):
    record = services.record_register(actor=actor(), user=user, session=session)
    if status != R.REGISTERED:
        # Reach the starting status by the shortest allowed path.
        path = {R.EXCUSED: [R.EXCUSED], R.NO_SHOW: [R.NO_SHOW]}.get(status, [status])
        for step in path:
            record = services.record_update(record=record, actor=actor(), status=step)
    return record


@pytest.mark.parametrize("source", list(R))
@pytest.mark.parametrize("target", list(R))
def test_every_record_status_pair_follows_the_table(source, target):
    session = make_session(make_course())
    (person,) = people(1)
    record = record_in(source, session, person)
    assert record.status == source
    allowed = target == source or target in Record.pipeline[source]
    if allowed:
        record = services.record_update(record=record, actor=actor(), status=target)
        assert record.status == target
        assert (record.completed_at is not None) == (target in Record.RESULT_STATUSES)
        assert (record.valid_until is not None) == (target == R.COMPLETED)
    else:
        with pytest.raises(TransitionNotAllowed):
            services.record_update(record=record, actor=actor(), status=target)
        record.refresh_from_db()
        assert record.status == source


@pytest.mark.parametrize("source", list(S))
@pytest.mark.parametrize("target", list(S))
def test_every_session_status_pair_follows_the_table(source, target):
    session = make_session(make_course())
    if source == S.COMPLETED:
        session = services.session_update(session=session, actor=actor(), status=S.COMPLETED)
    elif source == S.CANCELLED:
        session = services.session_update(session=session, actor=actor(), status=S.CANCELLED)
    if target == source or target in Session.pipeline[source]:
        assert services.session_update(session=session, actor=actor(), status=target).status == (
            target
        )
    else:
        with pytest.raises(TransitionNotAllowed):
            services.session_update(session=session, actor=actor(), status=target)


def test_record_history_keeps_user_and_reason():
    session = make_session(make_course(validity_days=30))
    (person,) = people(1)
    coordinator = actor()
    record = services.record_register(actor=coordinator, user=person, session=session)
    services.record_update(
        record=record, actor=coordinator, status=R.NO_SHOW, reason="Did not sign in"
    )
    services.record_update(record=record, actor=coordinator, status=R.ATTENDED)
    entries = list(record.history.order_by("history_date", "history_id"))
    assert [e.history_user for e in entries] == [coordinator] * 3
    assert [e.history_change_reason for e in entries] == [
        "Recorded as registered",
        "Did not sign in",
        "No-show → Attended",
    ]


def test_bulk_marking_writes_history_per_record():
    session = make_session(make_course())
    records = [services.record_register(actor=actor(), user=p, session=session) for p in people(3)]
    changed, refused = services.mark_attended(records=records, actor=actor())
    assert len(changed) == 3 and refused == []
    for record in records:
        assert record.history.count() == 2
        assert record.history.first().history_change_reason == "Marked attended"


def test_record_rules():
    course = make_course()
    session = make_session(course)
    a, b = people(2)
    with pytest.raises(InvalidInput):
        services.record_register(
            actor=actor(),
            user=a,
            session=session,
            status=R.COMPLETED,
            completed_at=timezone.now() + datetime.timedelta(days=1),
        )
    with pytest.raises(InvalidInput):
        services.record_register(actor=actor(), user=a, session=session, score=101)
    services.record_register(actor=actor(), user=a, session=session)
    with pytest.raises(Conflict):
        services.record_register(actor=actor(), user=a, session=session)
    cancelled = services.session_update(
        session=make_session(course), actor=actor(), status=S.CANCELLED
    )
    with pytest.raises(Conflict):
        services.record_register(actor=actor(), user=b, session=cancelled)
    with pytest.raises(NotPermitted):
        services.record_register(actor=factories.staff(username="s"), user=b, session=session)


def test_database_refuses_what_the_services_would():
    session = make_session(make_course())
    (person,) = people(1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Record(user=person, session=session, status=R.COMPLETED).save()
    with pytest.raises(IntegrityError), transaction.atomic():
        Record(user=person, session=session, score=300).save()
    starts = timezone.now()
    with pytest.raises(IntegrityError), transaction.atomic():
        Session(course=session.course, starts_at=starts, ends_at=starts).save()


def test_a_session_with_records_keeps_its_course():
    session = make_session(make_course())
    services.record_register(actor=actor(), user=people(1)[0], session=session)
    with pytest.raises(Conflict):
        services.session_update(session=session, actor=actor(), course=make_course(title="Other"))


def test_evaluation_objectives_and_improvement_action_raising_a_plan_change():
    plan = make_plan(code="TRN")
    session = make_session(make_course(kind="tabletop"), objectives="- Detect\n- Contain")
    coordinator = actor()
    evaluation = services.evaluation_save(
        session=session,
        actor=coordinator,
        time_to_detect=datetime.timedelta(minutes=5),
        findings="Containment was slow.",
    )
    services.objective_results_from_session(evaluation=evaluation, actor=coordinator)
    assert [r.objective for r in evaluation.objective_results.all()] == ["Detect", "Contain"]
    action = services.improvement_action_save(
        evaluation=evaluation,
        actor=coordinator,
        description="Add a containment checklist to the plan.",
        plan=plan,
        request_plan_change=True,
    )
    assert action.change_request is not None
    assert action.change_request.plan == plan
    assert action.change_request.source.startswith("Exercise:")
    assert action.history.first().history_user == coordinator
    evaluation = services.evaluation_save(session=session, actor=coordinator, findings="Updated")
    assert evaluation.history.count() == 2


def test_only_exercises_are_evaluated():
    session = make_session(make_course(kind="course"))
    with pytest.raises(InvalidInput):
        services.evaluation_save(session=session, actor=actor(), findings="x")

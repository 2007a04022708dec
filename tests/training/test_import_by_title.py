"""A sign-in sheet names its session by id, or by its title and date as people write them."""

import datetime

import pytest
from django.utils import timezone

from tests.training.factories import make_course, make_session, people
from training import imports

pytestmark = pytest.mark.django_db

STARTS = datetime.datetime(2026, 3, 14, 9, 0, tzinfo=datetime.UTC)


def check(text):
    return imports.sheet_rows(text)


def _day(session):
    return timezone.localtime(session.starts_at).date()


def test_a_session_is_found_by_its_title_and_date_in_every_written_form():
    session = make_session(make_course(title="Phishing drill"), starts_at=STARTS, title="Tabletop")
    (person,) = people(1)
    day = _day(session)
    forms = [
        f"Tabletop {day:%Y-%m-%d}",
        f"tabletop ({day:%Y-%m-%d})",
        f'"Tabletop, {day:%Y-%m-%d}"',
        str(session),  # as the admin shows it: "Tabletop (14 Mar 2026)"
    ]
    for form in forms:
        (row,) = check(f"username,session,status\n{person.username},{form},attended\n")
        assert row.errors == [] and row.session == session, form
    (row,) = check(
        f"username,session,session_date,status\n{person.username},Tabletop,{day},attended\n"
    )
    assert row.errors == [] and row.session == session
    (row,) = check(f"username,session,status\n{person.username},{session.pk},attended\n")
    assert row.session == session


def test_a_session_without_a_title_is_found_by_its_course_title():
    session = make_session(make_course(title="Phishing drill"), starts_at=STARTS)
    (person,) = people(1)
    text = f"username,session,status\n{person.username},Phishing drill {_day(session)},attended\n"
    (row,) = check(text)
    assert row.errors == [] and row.session == session


def test_two_sessions_of_the_same_title_and_day_ask_for_the_id():
    course = make_course(title="Drill")
    first = make_session(course, starts_at=STARTS)
    second = make_session(course, starts_at=STARTS + datetime.timedelta(hours=3))
    (person,) = people(1)
    (row,) = check(f"username,session,status\n{person.username},Drill {_day(first)},attended\n")
    assert row.session is None
    assert row.errors == [
        f"2 sessions match 'Drill {_day(first)}': name it by its id ({first.pk}, {second.pk})"
    ]


def test_a_wrong_title_or_date_is_an_unknown_session():
    session = make_session(make_course(title="Drill"), starts_at=STARTS)
    (person,) = people(1)
    other_day = _day(session) + datetime.timedelta(days=1)
    for form in (f"Drill {other_day}", f"Fire drill {_day(session)}", "Drill", "Drill 2026-02-31"):
        (row,) = check(f"username,session,status\n{person.username},{form},attended\n")
        assert row.session is None and row.errors == [f"unknown session {form!r}"], form


def test_sessions_are_looked_up_in_one_query_however_many_rows(django_assert_num_queries):
    course = make_course(title="Drill")
    sessions = [
        make_session(course, starts_at=STARTS + datetime.timedelta(days=i)) for i in range(5)
    ]
    crowd = people(5)
    lines = [f"{p.username},Drill {_day(s)},attended" for p, s in zip(crowd, sessions, strict=True)]
    rows = imports.read_sheet("username,session,status\n" + "\n".join(lines) + "\n")
    # people, sessions, existing records
    with django_assert_num_queries(3):
        imports.check_rows(rows)
    assert [row.session for row in rows] == sessions

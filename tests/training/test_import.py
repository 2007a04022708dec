"""Attendance import: preview first, named row errors, all or nothing, history records the importer."""

import html

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests import factories
from tests.training.factories import actor, make_course, make_session, people
from training import imports, services
from training.models import Record

pytestmark = pytest.mark.django_db

URL = "/admin/training/record/import/"


@pytest.fixture
def sheet_setup():
    course = make_course(validity_days=90)
    session = make_session(course)
    a, b, c = people(3)
    registered = services.record_register(actor=actor(), user=c, session=session)
    return course, session, (a, b, c), registered


def upload(client, text, name="sheet.csv"):
    return client.post(URL, {"sheet": SimpleUploadedFile(name, text.encode(), "text/csv")})


def test_preview_then_confirm_imports_every_row(client, coordinator, sheet_setup):
    course, session, (a, b, c), registered = sheet_setup
    text = (
        "username,session,status,completed_at,score\n"
        f"{a.username},{session.pk},completed,2026-01-05,88\n"
        f"{b.username},{session.pk},No-show,,\n"
        f"{c.username},{session.pk},attended,,\n"
    )
    client.force_login(coordinator)
    response = upload(client, text)
    assert response.status_code == 200
    assert b"Import these 3 rows" in response.content
    assert Record.objects.count() == 1  # preview saves nothing
    response = client.post(
        URL, {"content": text, "source": "sheet.csv", "confirm": "1"}, follow=True
    )
    assert response.status_code == 200
    assert Record.objects.count() == 3
    rec_a = Record.objects.get(user=a)
    assert rec_a.status == "completed" and rec_a.score == 88
    assert rec_a.valid_until is not None
    assert Record.objects.get(user=b).status == "no_show"
    registered.refresh_from_db()
    assert registered.status == "attended"
    for record in Record.objects.all():
        entry = record.history.first()
        assert entry.history_user == coordinator
        assert entry.history_change_reason == "Imported from attendance sheet sheet.csv"


@pytest.mark.parametrize(
    "bad_line, error",
    [
        ("nobody,{session},completed,,", "unknown user 'nobody'"),
        ("{b},999999,completed,,", "unknown session '999999'"),
        ("{b},abc,completed,,", "unknown session 'abc'"),
        ("{b},{session},finished,,", "bad status 'finished'"),
        ("{a},{session},attended,,", "duplicate of line 2"),
        ("{b},{session},completed,yesterday,", "bad completion time"),
        ("{b},{session},completed,,150", "bad score"),
        ("{b},{session},registered,2026-01-01,", "a completion time needs status completed"),
    ],
)
def test_any_bad_row_is_named_and_nothing_is_imported(
    client, coordinator, sheet_setup, bad_line, error
):
    course, session, (a, b, c), registered = sheet_setup
    line = bad_line.format(session=session.pk, a=a.username, b=b.username)
    text = f"username,session,status,completed_at,score\n{a.username},{session.pk},completed,,\n{line}\n"
    client.force_login(coordinator)
    response = upload(client, text)
    assert response.status_code == 200
    assert html.escape(error).encode() in response.content
    assert b"Import these" not in response.content
    # Posting the confirmation anyway is checked again and refused as a whole.
    client.post(URL, {"content": text, "source": "x.csv", "confirm": "1"})
    assert Record.objects.count() == 1
    assert not Record.objects.filter(user=a).exists()


def test_transition_refused_at_import_rolls_back_every_row(coordinator, sheet_setup):
    course, session, (a, b, c), registered = sheet_setup
    services.record_update(record=registered, actor=actor(), status="excused")
    text = (
        "username,session,status\n"
        f"{a.username},{session.pk},completed\n"
        f"{c.username},{session.pk},completed\n"
    )
    rows = imports.sheet_rows(text)
    assert rows[1].errors == ["cannot go from excused to completed"]
    # The service refuses the whole sheet too, even if asked directly.
    rows[1].errors = []
    with pytest.raises(services.ImportRejected):
        services.import_attendance(actor=coordinator, rows=rows, source="x")
    assert not Record.objects.filter(user=a).exists()


def test_sheet_level_errors(client, coordinator):
    client.force_login(coordinator)
    for text, error in [
        ("", b"Choose a CSV file"),
        ("name,when\nx,y\n", b"Missing column(s): username, session, status"),
        ("username,session,status\n", b"The sheet has no rows"),
    ]:
        response = upload(client, text) if text else client.post(URL, {})
        assert error in response.content, text


def test_only_importers_may_import(client):
    person = factories.compliance(username="auditor")
    client.force_login(person)
    assert client.get(URL).status_code == 403
    with pytest.raises(services.NotPermitted):
        services.import_attendance(actor=person, rows=[], source="")

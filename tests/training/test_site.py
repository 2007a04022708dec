"""Self-service: my training page and the home panel; the demo loader."""

import datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from tests.training.factories import complete, make_course
from training import queries
from training.models import Course

pytestmark = pytest.mark.django_db


def test_my_training_shows_own_rows_and_records(client, staff_user):
    course = make_course(title="Awareness", validity_days=365)
    make_course(title="Drill", kind="drill", validity_days=90)
    complete(staff_user, course, timezone.now() - datetime.timedelta(days=400))
    client.force_login(staff_user)
    response = client.get(reverse("training:mine"))
    assert response.status_code == 200
    text = response.content.decode()
    assert "Overdue" in text and "Not done yet" in text
    home = client.get(reverse("home")).content.decode()
    assert "Training to do" in home and "Drill" in home


def test_home_panel_is_hidden_when_everything_is_current(client, staff_user):
    course = make_course(validity_days=None)
    complete(staff_user, course, timezone.now() - datetime.timedelta(days=1))
    client.force_login(staff_user)
    assert "Training to do" not in client.get(reverse("home")).content.decode()


def test_demo_shows_every_state_and_is_idempotent(settings):
    settings.DEBUG = True
    call_command("demo", stdout=StringIO())
    call_command("demo", stdout=StringIO())
    assert Course.objects.count() == 2
    drill = Course.objects.get(kind="drill")
    assert drill.validity_days == 90
    assert Course.objects.get(kind="awareness").validity_days == 365
    states = {row["state"] for row in queries.compliance_rows()}
    assert states == {"current", "due_soon", "overdue", "never"}
    for course in Course.objects.all():
        assert {r["state"] for r in queries.compliance_rows(course=course)} == {
            "current",
            "due_soon",
            "overdue",
            "never",
        }
    assert drill.sessions.filter(evaluation__isnull=False).exists()

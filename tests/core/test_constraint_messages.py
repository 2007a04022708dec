"""Every constraint a person can trip answers in words, in the admin and the API alike."""

import datetime

import pytest
from django.apps import apps
from django.urls import reverse
from django.utils import timezone

from tests.training.factories import make_course

pytestmark = pytest.mark.django_db


def test_every_constraint_of_ours_has_a_message_in_words():
    for app in ("incidents", "plans", "training", "core"):
        for model in apps.get_app_config(app).get_models():
            for constraint in model._meta.constraints:
                message = constraint.get_violation_error_message()
                assert "is violated" not in message, (model.__name__, constraint.name)


def test_a_session_ending_before_it_starts_is_refused_in_words_over_the_api(api, coordinator):
    course = make_course()
    start = timezone.now() + datetime.timedelta(days=3)
    response = api(coordinator).post(
        "/api/v1/training/sessions/",
        {
            "course": course.pk,
            "starts_at": start.isoformat(),
            "ends_at": (start - datetime.timedelta(hours=1)).isoformat(),
        },
        format="json",
    )
    assert response.status_code == 400
    assert "A session ends after it starts." in str(response.json())
    assert "violated" not in str(response.json())


def test_a_session_ending_before_it_starts_is_refused_in_words_in_the_admin(client, coordinator):
    course = make_course()
    client.force_login(coordinator)
    start = timezone.localtime() + datetime.timedelta(days=3)
    end = start - datetime.timedelta(hours=1)
    response = client.post(
        reverse("admin:training_session_add"),
        {
            "course": course.pk,
            "title": "Tabletop",
            "starts_at_0": start.date().isoformat(),
            "starts_at_1": start.strftime("%H:%M:%S"),
            "ends_at_0": end.date().isoformat(),
            "ends_at_1": end.strftime("%H:%M:%S"),
            "status": "scheduled",
        },
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "A session ends after it starts." in page and "violated" not in page


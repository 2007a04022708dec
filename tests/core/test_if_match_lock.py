"""If-Match is checked under the row lock the write takes: a PATCH racing another edit gets 412."""

import threading
import time

import pytest
from django.db import connections, transaction
from rest_framework.test import APIClient

from tests import factories
from tests.training.factories import make_course
from training import services
from training.models import Course


@pytest.mark.django_db(transaction=True)
def test_a_patch_waiting_on_a_concurrent_edit_is_refused_with_412(postgres_only):
    coordinator = factories.coordinator(username="coord")
    course = make_course("Fire drill")
    client = APIClient()
    client.force_authenticate(coordinator)
    etag = client.get(f"/api/v1/training/courses/{course.pk}/")["ETag"]

    locked, release = threading.Event(), threading.Event()
    answers = []

    def other_editor():
        try:
            with transaction.atomic():
                row = Course.objects.select_for_update().get(pk=course.pk)
                locked.set()
                release.wait(10)
                services.course_update(course=row, actor=coordinator, title="Fire drill (renamed)")
        finally:
            connections.close_all()

    def patcher():
        try:
            response = client.patch(
                f"/api/v1/training/courses/{course.pk}/",
                {"description": "Mine"},
                format="json",
                HTTP_IF_MATCH=etag,
            )
            answers.append(response.status_code)
        finally:
            connections.close_all()

    editor = threading.Thread(target=other_editor)
    editor.start()
    assert locked.wait(10)
    patch = threading.Thread(target=patcher)
    patch.start()
    time.sleep(0.5)  # the PATCH is now waiting for the row
    release.set()
    editor.join(10)
    patch.join(10)
    assert answers == [412]
    course.refresh_from_db()
    assert (course.title, course.description) == ("Fire drill (renamed)", "")
